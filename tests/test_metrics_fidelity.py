"""Edit fidelity: planted per-unit changes through a linear stand-in generator, component matching, conditional
rows, and `metrics edit-fidelity` / `metrics separability` on the tiny checkpoint."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import Tensor, nn

from stylegan_edit.classifiers.attributes import save_classifier
from stylegan_edit.cli.metrics import metrics
from stylegan_edit.editors import Direction, GeneratorSignature
from stylegan_edit.formats.native import load_generator
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.metrics.fidelity import (
    conditional_variants,
    edit_scores,
    fidelity_from_scores,
    measure_edit_fidelity,
)
from tests.test_classifier import small_classifier

GAINS = torch.tensor([2.0, -1.0, 0.5])
NAMES = ("a", "b", "c")


class LinearGenerator(nn.Module):
    """Stands in for a Generator: w = z, and the image's three channels are w[:3], so logits are linear in w."""

    z_dim = w_dim = 6
    num_ws = 2
    device = torch.device("cpu")

    def mapping(self, z: Tensor) -> Tensor:
        return z[:, None, :].repeat(1, self.num_ws, 1)

    def synthesis(self, ws: Tensor, noise_mode: str = "const") -> Tensor:
        return ws[:, 0, :3, None, None].expand(-1, -1, 4, 4)


def linear_scorer(images: Tensor) -> Tensor:
    return images.mean(dim=(2, 3)) * GAINS


def direction(vector: list[float], name: str, method: str, space: LatentSpace = LatentSpace.W) -> Direction:
    v = torch.tensor(vector)
    return Direction(vector=v / v.norm(), space=space, name=name, method=method)


@pytest.mark.parametrize("space", [LatentSpace.W, LatentSpace.Z])
def test_planted_per_unit_change_and_leakage(space: LatentSpace) -> None:
    generator = LinearGenerator()
    z = torch.randn(20, 6, generator=torch.Generator().manual_seed(0))
    edit = direction([3.0, 0.0, 4.0, 0.0, 0.0, 1.0], "a", "interfacegan", space)
    unit = edit.vector
    result = measure_edit_fidelity(generator, linear_scorer, NAMES, edit, z, [-1.0, 0.0, 1.0], target="a")  # type: ignore[arg-type]
    assert result.target_logit == pytest.approx(float(GAINS[0] * unit[0]), rel=1e-5)
    assert 0 < result.target_probability < 0.25 * float(GAINS[0] * unit[0])  # sigmoid slope is at most 1/4
    assert result.leakage["b"] == pytest.approx(0.0, abs=1e-7)  # the edit does not touch channel 1
    assert result.leakage["c"] > 0 and set(result.leakage) == {"b", "c"} and not result.flipped


def test_w_plus_codes_are_edited_in_place() -> None:
    """Encoder or projection codes (W+) are edited directly; a Z direction cannot edit them."""
    generator = LinearGenerator()
    ws = torch.randn(10, 2, 6, generator=torch.Generator().manual_seed(1))
    codes = Latents(ws, LatentSpace.W_PLUS)
    edit = direction([3.0, 0.0, 4.0, 0.0, 0.0, 1.0], "a", "interfacegan")
    logits = edit_scores(generator, linear_scorer, codes, edit, [0.0, 1.0])  # type: ignore[arg-type]
    assert torch.allclose(logits[0], linear_scorer(ws[:, 0, :3, None, None]))  # strength 0 keeps the codes
    assert torch.allclose(logits[1, :, 0] - logits[0, :, 0], GAINS[0] * edit.vector[0].expand(10))
    with pytest.raises(ValueError, match="lives in Z"):
        edit_scores(generator, linear_scorer, codes, replace(edit, space=LatentSpace.Z), [0.0, 1.0])  # type: ignore[arg-type]


def test_components_are_matched_and_oriented() -> None:
    logits = torch.zeros(3, 4, 3)
    strengths = [-2.0, 0.0, 2.0]
    for i, s in enumerate(strengths):
        logits[i, :, 1] = -1.5 * s  # moves b down strongly
        logits[i, :, 2] = 0.2 * s
    result = fidelity_from_scores(logits, strengths, NAMES, direction="pc0", method="ganspace")
    assert result.target == "b" and result.flipped and result.target_logit == pytest.approx(1.5)
    assert result.leakage["a"] == 0 and result.leakage["c"] > 0
    restricted = fidelity_from_scores(logits, strengths, NAMES, direction="pc0", method="ganspace", candidates=["c"])
    assert restricted.target == "c" and not restricted.flipped
    with pytest.raises(ValueError, match="two different strengths"):
        fidelity_from_scores(logits[:1], [1.0], NAMES, direction="x", method="m")
    with pytest.raises(ValueError, match="unknown attribute 'd'"):
        fidelity_from_scores(logits, strengths, NAMES, direction="x", method="m", target="d")


def test_conditional_variants_are_orthogonal_to_the_other_directions() -> None:
    age = direction([1.0, 1.0, 0.0, 0.0], "age", "interfacegan")
    glasses = direction([1.0, 0.0, 1.0, 0.0], "eyeglasses", "interfacegan")
    beard = direction([0.0, 1.0, 0.0, 1.0], "beard", "interfacegan")
    pc = direction([0.0, 0.0, 0.0, 1.0], "pc0", "ganspace")
    variants = {d.name: d for d in conditional_variants([age, glasses, beard, pc])}
    assert set(variants) == {"age|eyeglasses,beard", "eyeglasses|age,beard", "beard|age,eyeglasses"}
    conditional = variants["age|eyeglasses,beard"]
    assert (
        abs(float(conditional.vector @ glasses.vector)) < 1e-6 and abs(float(conditional.vector @ beard.vector)) < 1e-6
    )
    only = conditional_variants([age, glasses, beard], conditions=["eyeglasses"])
    assert [d.name for d in only] == ["age|eyeglasses", "beard|eyeglasses"]


@pytest.fixture
def classifier_path(tmp_path: Path) -> Path:
    path = tmp_path / "classifier.safetensors"
    save_classifier(path, small_classifier(), dtype=torch.float32)
    return path


def test_edit_fidelity_command(tmp_path: Path, tiny_checkpoint: Path, classifier_path: Path) -> None:
    generator = load_generator(tiny_checkpoint)
    signature = GeneratorSignature.of(generator)
    gen = torch.Generator().manual_seed(0)
    files = []
    for name, method in (("age", "interfacegan"), ("smile", "interfacegan"), ("sefa0", "sefa")):
        vector = torch.randn(generator.w_dim, generator=gen)
        found = Direction(vector / vector.norm(), LatentSpace.W, name, method, generator=signature)
        found.save(tmp_path / f"{name}.safetensors")
        files += ["--directions", tmp_path / f"{name}.safetensors"]
    out = tmp_path / "fidelity.json"
    args = ["edit-fidelity", "--network", tiny_checkpoint, *files, "--num", 6, "--strength", "-1:1:3"]
    result = CliRunner().invoke(metrics, [str(a) for a in [*args, "--classifier", classifier_path, "--json", out]])
    assert result.exit_code == 0, result.output
    rows = {row["direction"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"age", "smile", "sefa0", "age|smile", "smile|age"}
    assert rows["age"]["target"] == "age" and rows["age|smile"]["method"] == "interfacegan+conditional"
    assert rows["sefa0"]["target"] in ("age", "smile", "eyeglasses", "yaw", "hair_length", "beard", "eyes_open")
    assert rows["sefa0"]["target_probability_per_unit"] >= 0 and len(rows["age"]["leakage"]) == 7
    bad = CliRunner().invoke(metrics, [str(a) for a in [*args, "--condition", "hat", "--classifier", classifier_path]])
    assert bad.exit_code != 0 and "'hat' is not among the directions" in bad.output


def test_separability_command(tiny_checkpoint: Path, classifier_path: Path) -> None:
    args = ["separability", "--network", tiny_checkpoint, "--num", 60, "--classifier", classifier_path]
    result = CliRunner().invoke(metrics, [str(a) for a in [*args, "--no-progress"]])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split() == ["space", "z", "w"]
    scores = [float(v) for v in lines[2].split()[1:]]
    assert len(scores) == 2 and all(s >= 1.0 for s in scores)
    assert any(line.startswith("H(eyes_open)") for line in lines)
