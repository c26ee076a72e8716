"""The README's headline workflow on the bundled model, judged by what the pictures show.

`project` must reconstruct held-out SynthFaces renders (PSNR of its own metrics, checked against the files it
wrote), and `apply --direction age --strength 2` must make the faces visibly older to the attribute classifier,
by a margin that a random unit direction of the same strength does not reach.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from stylegan_edit.classifiers import load_classifier
from stylegan_edit.cli.main import cli
from stylegan_edit.data.synthfaces import render_seed
from stylegan_edit.editors import load_direction
from stylegan_edit.images import from_pil, read_image
from stylegan_edit.perceptual import psnr

NUM_FACES = 4
MIN_PSNR_DB = 22.0  # 40 L-BFGS steps from the mean W reach 24-30 dB on these renders
MIN_MEDIAN_RISE = 2.0  # age logit; measured +2.4 to +8 (median) for the age direction, -0.2 to +0.5 for random ones


def _young_faces(folder: Path) -> list[Path]:
    """Held-out renders (seeds the model never saw) of young faces, so that "older" has room to show."""
    paths, seed = [], 900_001
    while len(paths) < NUM_FACES:
        factors, image = render_seed(seed, size=64)
        if factors.age < 0.3:
            paths.append(folder / f"face{len(paths)}.png")
            image.save(paths[-1])
        seed += 1
    return paths


def _age_logits(paths: list[Path]) -> np.ndarray:
    classifier = load_classifier()
    with torch.no_grad():
        images = torch.cat([from_pil(read_image(p)) for p in paths])
        return classifier(images)[:, classifier.index("age")].numpy()


@pytest.fixture(scope="module")
def projected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("headline")
    faces = _young_faces(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # `project` writes out/ and its hand-off record in the working folder
        args = ["project", *map(str, faces), "--space", "w+", "--preset", "lbfgs", "--steps", "40", "--no-progress"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    return folder


def test_project_reconstructs_the_photos(projected: Path) -> None:
    for i in range(NUM_FACES):
        folder = projected / "out" / "project" / f"face{i}"
        reported = json.loads((folder / "metrics.json").read_text())["psnr"]
        measured = float(psnr(from_pil(read_image(folder / "proj.png")), from_pil(read_image(folder / "target.png"))))
        assert reported > MIN_PSNR_DB
        assert abs(measured - reported) < 0.5  # the written picture is the reconstruction the metrics describe


def test_apply_makes_the_faces_older_and_a_random_direction_does_not(
    projected: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(projected)
    reconstructions = [projected / "out" / "project" / f"face{i}" / "proj.png" for i in range(NUM_FACES)]
    before = _age_logits(reconstructions)
    runner = CliRunner()
    rises = {}
    age = load_direction("age")
    for name in ("age", "random0", "random1", "random2"):
        spec = "age"
        if name != "age":
            vector = torch.randn(age.vector.shape, generator=torch.Generator().manual_seed(int(name[-1])))
            spec = str(projected / f"{name}.safetensors")
            replace(age, vector=vector / vector.norm(), name=name).save(spec)
        outdir = projected / "out" / f"edit-{name}"
        result = runner.invoke(cli, ["apply", "--direction", spec, "--strength", "2", "--outdir", str(outdir)])
        assert result.exit_code == 0, result.output
        edited = sorted(outdir.glob("edited_*.png"))
        assert len(edited) == NUM_FACES
        rises[name] = float(np.median(_age_logits(edited) - before))
    assert rises["age"] > MIN_MEDIAN_RISE, rises
    assert all(rises[f"random{k}"] < MIN_MEDIAN_RISE for k in range(3)), rises
