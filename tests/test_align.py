"""FFHQ face alignment on scikit-image's astronaut photo, and the `align` command."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from stylegan_edit.cli.align import align
from stylegan_edit.invert.align import align_face, detect_faces, landmarks_model_path


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    data = pytest.importorskip("skimage.data")
    return Image.fromarray(data.astronaut())


def _eyes_and_mouth(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0), (landmarks[48] + landmarks[54]) / 2


def test_landmark_model_is_found_without_importing_its_package() -> None:
    path = landmarks_model_path()
    assert path.name == "shape_predictor_68_face_landmarks.dat" and path.stat().st_size > 10**7
    assert "face_recognition_models" not in sys.modules  # its __init__ needs pkg_resources


def test_astronaut_is_aligned_like_ffhq(astronaut: Image.Image) -> None:
    aligned = align_face(astronaut, output_size=256)
    assert aligned.image.size == (256, 256) and aligned.image.mode == "RGB"
    # The source landmarks carried into the crop: eyes level on row ~0.48, mouth on ~0.69, centred.
    left, right, mouth = (p / 256 for p in _eyes_and_mouth(aligned.to_crop(aligned.landmarks)))
    assert abs(left[1] - right[1]) < 0.01 and 0.44 < left[1] < 0.51
    assert 0.66 < mouth[1] < 0.72 and abs(mouth[0] - 0.5) < 0.02
    assert abs((left[0] + right[0]) / 2 - 0.5) < 0.02 and 0.22 < right[0] - left[0] < 0.28
    # An independent check: dlib finds the same geometry again in the aligned crop.
    faces = detect_faces(aligned.image)
    assert faces, "no face found in the aligned crop"
    left2, right2, mouth2 = (p / 256 for p in _eyes_and_mouth(faces[0]))
    assert np.allclose(left2, left, atol=0.02) and np.allclose(right2, right, atol=0.02)
    assert np.allclose(mouth2, mouth, atol=0.02)


def test_no_face_and_missing_face_index(astronaut: Image.Image) -> None:
    with pytest.raises(ValueError, match="no face found"):
        align_face(Image.new("RGB", (128, 128), (90, 120, 200)), output_size=64)
    num_faces = len(detect_faces(astronaut))
    with pytest.raises(ValueError, match=f"found {num_faces} face\\(s\\), so face index 7 does not exist"):
        align_face(astronaut, output_size=64, face_index=7)


def test_align_command(tmp_path: Path, astronaut: Image.Image) -> None:
    astronaut.save(tmp_path / "astronaut.jpg")
    Image.new("RGB", (128, 128), (90, 120, 200)).save(tmp_path / "sky.png")
    runner = CliRunner()
    ok = runner.invoke(align, [str(tmp_path / "astronaut.jpg"), "--size", "64", "--outdir", str(tmp_path / "out")])
    assert ok.exit_code == 0, ok.output
    assert Image.open(tmp_path / "out" / "astronaut.png").size == (64, 64)
    bad = runner.invoke(align, [str(tmp_path / "sky.png"), "--outdir", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and bad.output.strip().splitlines() == [
        f"Error: {tmp_path / 'sky.png'}: no face found (dlib's frontal face detector)"
    ]
    assert not (tmp_path / "bad").exists()  # the folder it created is removed again
