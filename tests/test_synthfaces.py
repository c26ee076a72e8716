"""SynthFaces: determinism, labels and their correlations, shared geometry across styles, files, and the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan_edit.cli.dataset import dataset
from stylegan_edit.data import (
    ATTRIBUTES,
    FaceFactors,
    SynthFaces,
    face_factors,
    foreground_mask,
    read_labels,
    render_face,
    sample_factors,
    write_dataset,
)


@pytest.fixture(scope="module")
def many_factors() -> list[FaceFactors]:
    return [face_factors(seed) for seed in range(2000)]


def _pixels(factors: FaceFactors, **kwargs: object) -> np.ndarray:
    return np.asarray(render_face(factors, **kwargs), dtype=np.int16)  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["photo", "toon"])
def test_same_seed_same_pixels_and_different_seeds_differ(style: str) -> None:
    first = SynthFaces(4, style=style, seed_offset=10)  # type: ignore[arg-type]
    second = SynthFaces(2, style=style, seed_offset=12)  # type: ignore[arg-type]
    assert torch.equal(first[2][0], second[0][0])
    assert torch.equal(first[3][1], second[1][1])
    assert (first[0][0] - first[1][0]).abs().mean() > 0.05


def test_noise_seed_changes_only_texture() -> None:
    factors = face_factors(3)
    a, b = _pixels(factors, noise_seed=0), _pixels(factors, noise_seed=1)
    assert not np.array_equal(a, b)
    assert np.abs(a - b).mean() < 0.1 * 255


@pytest.mark.parametrize(("size", "style"), [(64, "photo"), (32, "toon"), (128, "photo")])
def test_image_shape_dtype_range(size: int, style: str) -> None:
    faces = SynthFaces(2, size=size, style=style)  # type: ignore[arg-type]
    image, labels = faces[1]
    assert image.shape == (3, size, size) and image.dtype == torch.float32
    assert image.min() >= -1.0 and image.max() <= 1.0 and image.std() > 0.1
    assert labels.shape == (len(ATTRIBUTES),) and labels.dtype == torch.int64
    assert torch.equal(labels, torch.from_numpy(faces.factors(1).labels().astype(np.int64)))
    picture = render_face(faces.factors(1), size=size, style=style)  # type: ignore[arg-type]
    assert picture.mode == "RGB" and picture.size == (size, size)


def test_labels_match_factors(many_factors: list[FaceFactors]) -> None:
    for factors in many_factors[:200]:
        labels, values = factors.labels(), factors.continuous()
        assert labels.dtype == np.int8 and values.dtype == np.float32
        assert labels[0] == (factors.age > 0.5) and labels[1] == (factors.smile > 0.5)
        assert labels[3] == (factors.yaw > 0) and labels[4] == (factors.hair_length > 0.5)
        assert labels[2] == factors.eyeglasses and labels[5] == factors.beard and labels[6] == factors.eyes_open
        assert np.array_equal(values[[2, 5, 6]], labels[[2, 5, 6]].astype(np.float32))


def test_continuous_factors_avoid_the_threshold_band(many_factors: list[FaceFactors]) -> None:
    values = np.stack([f.continuous() for f in many_factors])
    for column, threshold, margin in ((0, 0.5, 0.1), (1, 0.5, 0.1), (3, 0.0, 0.3), (4, 0.5, 0.1)):
        assert np.abs(values[:, column] - threshold).min() >= margin - 1e-6


def test_label_frequencies_are_balanced_and_correlated(many_factors: list[FaceFactors]) -> None:
    labels = np.stack([f.labels() for f in many_factors]).astype(bool)
    frequency = labels.mean(0)
    assert np.all(frequency > 0.25) and np.all(frequency < 0.75), dict(zip(ATTRIBUTES, frequency, strict=True))
    old, glasses, long_hair, beard = labels[:, 0], labels[:, 2], labels[:, 4], labels[:, 5]
    assert glasses[old].mean() > glasses[~old].mean() + 0.2
    assert not np.any(beard & long_hair)
    assert beard[old & ~long_hair].mean() > beard[~old & ~long_hair].mean() + 0.2


def test_sample_factors_depends_only_on_the_generator_state() -> None:
    a = sample_factors(np.random.default_rng(7))
    b = sample_factors(np.random.default_rng(7))
    assert a == b and a != sample_factors(np.random.default_rng(8))
    assert FaceFactors.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_factors_reject_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="yaw must be in"):
        dataclasses.replace(face_factors(0), yaw=1.5)


def test_styles_share_geometry() -> None:
    for seed in range(5):
        factors = face_factors(seed)
        photo = foreground_mask(factors, style="photo") > 0.5
        toon = foreground_mask(factors, style="toon") > 0.5
        other = foreground_mask(face_factors(seed + 100), style="toon") > 0.5
        iou = (photo & toon).sum() / (photo | toon).sum()
        assert iou > 0.97
        assert iou > (photo & other).sum() / (photo | other).sum()


def test_attributes_change_the_image_where_expected() -> None:
    base = dataclasses.replace(face_factors(1), noise_level=0.0)
    image = _pixels(base)
    for edit in ({"eyeglasses": not base.eyeglasses}, {"eyes_open": not base.eyes_open}):
        edited = _pixels(dataclasses.replace(base, **edit))  # type: ignore[arg-type]
        rows = np.nonzero(np.abs(edited - image).sum(axis=(1, 2)))[0]
        assert rows.size and 0.3 * 64 < rows.mean() < 0.6 * 64  # only around the eyes
    smiling = _pixels(dataclasses.replace(base, smile=0.9))
    frowning = _pixels(dataclasses.replace(base, smile=0.1))
    rows = np.nonzero(np.abs(smiling - frowning).sum(axis=(1, 2)))[0]
    assert 0.6 * 64 < rows.mean() < 0.8 * 64  # around the mouth
    turned = foreground_mask(dataclasses.replace(base, yaw=0.8))
    assert not np.allclose(turned, foreground_mask(dataclasses.replace(base, yaw=-0.8)))


def test_bad_size_and_style_raise() -> None:
    with pytest.raises(ValueError, match="power of two"):
        render_face(face_factors(0), size=48)
    with pytest.raises(ValueError, match="style must be one of"):
        SynthFaces(2, style="oil")  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        SynthFaces(2)[2]


def test_write_dataset_files_and_labels(tmp_path: Path) -> None:
    labels_path = write_dataset(tmp_path / "out", 3, style="toon", size=32, seed_offset=5, progress=False)
    assert sorted(p.name for p in labels_path.parent.iterdir()) == [
        "00000000.png",
        "00000001.png",
        "00000002.png",
        "labels.json",
    ]
    faces = SynthFaces(3, size=32, style="toon", seed_offset=5)
    with Image.open(labels_path.parent / "00000002.png") as handle:
        pixels = np.asarray(handle.convert("RGB"))
    assert np.array_equal(pixels, np.asarray(render_face(faces.factors(2), size=32, style="toon")))
    names, labels, continuous = read_labels(labels_path)
    assert names == list(ATTRIBUTES)
    assert np.array_equal(labels[1], faces.factors(1).labels())
    assert np.allclose(continuous[1], faces.factors(1).continuous(), atol=1e-5)
    document = json.loads(labels_path.read_text())
    assert document["images"][0]["seed"] == 5
    assert FaceFactors.from_dict(document["images"][0]["factors"]) == faces.factors(0)


def test_cli_writes_dataset(tmp_path: Path) -> None:
    outdir = tmp_path / "faces"
    args = ["synthfaces", "--num", "2", "--size", "16", "--style", "toon", "--outdir", str(outdir), "--no-progress"]
    result = CliRunner().invoke(dataset, args)
    assert result.exit_code == 0, result.output
    assert (outdir / "00000001.png").is_file()
    assert read_labels(outdir / "labels.json")[1].shape == (2, len(ATTRIBUTES))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "48"], "power of two"),
        (["--style", "oil"], "'oil' is not one of"),
        (["--num", "0"], "--num"),
    ],
)
def test_cli_rejects_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(dataset, ["synthfaces", "--outdir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_unwritable_outdir_is_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(dataset, ["synthfaces", "--num", "1", "--outdir", str(blocker / "sub")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: cannot create output folder")
    assert len(result.output.strip().splitlines()) == 1
