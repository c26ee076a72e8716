"""`apply`, `directions list|fit|show`, `blend` and `interpolate` through click's test runner, good and bad input."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from stylegan_edit.cli.blend import blend, interpolate
from stylegan_edit.cli.directions import directions
from stylegan_edit.cli.edit import apply
from stylegan_edit.cli.handoff import record_latents
from stylegan_edit.editors import Direction, LinearEdit, load_direction, sample_latents
from stylegan_edit.formats.native import load_generator, save_network
from stylegan_edit.latents import Latents, LatentSpace, load_latents
from tests.conftest import TINY, make_generator

GANSPACE = ["fit", "--method", "ganspace", "--num-samples", "200", "--components", "3"]
SHOW = ["--seeds", "0-1", "--strength", "-2:2:3"]


def run(command: object, args: list[str]) -> Result:
    return CliRunner().invoke(command, [str(a) for a in args])  # type: ignore[arg-type]


def one_line_error(result: Result, text: str) -> None:
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert text in result.output and len(result.output.strip().splitlines()) == 1, result.output


@pytest.fixture
def sefa_dir(tmp_path: Path, tiny_checkpoint: Path) -> Path:
    folder = tmp_path / "dirs"
    result = run(
        directions, ["fit", "--method", "sefa", "--network", tiny_checkpoint, "--components", 2, "--outdir", folder]
    )
    assert result.exit_code == 0, result.output
    return folder


def test_directions_fit_list_show(tmp_path: Path, tiny_checkpoint: Path, sefa_dir: Path) -> None:
    assert sorted(p.name for p in sefa_dir.iterdir()) == ["sefa0.safetensors", "sefa1.safetensors"]
    ganspace = run(
        directions,
        [*GANSPACE, "--network", tiny_checkpoint, "--layers", "0-2", "--outdir", sefa_dir],
    )
    assert ganspace.exit_code == 0, ganspace.output
    assert load_direction(sefa_dir / "pc0.safetensors").layers == (0, 1, 2)
    assert Image.open(sefa_dir / "ganspace_preview.png").size == (5 * 16, 3 * 16)
    listed = run(directions, ["list", "--dir", sefa_dir])
    assert (
        listed.exit_code == 0
        and "sefa in w, layers 0-4" in listed.output
        and "pc2.safetensors: ganspace" in listed.output
    )
    assert "age: interfacegan in w" in listed.output  # the bundled library comes first
    grid = tmp_path / "show" / "direction.png"
    shown = run(
        directions,
        ["show", sefa_dir / "sefa0.safetensors", "--network", tiny_checkpoint, *SHOW, "--outdir", grid.parent],
    )
    assert shown.exit_code == 0, shown.output
    assert Image.open(grid).size == (3 * 16, 2 * 16)


def test_directions_fit_interfacegan_from_a_scores_file(tmp_path: Path, tiny_checkpoint: Path) -> None:
    generator = load_generator(tiny_checkpoint)
    latents = sample_latents(generator, 300, space="w")
    latents.save(tmp_path / "w.safetensors")
    normal = torch.ones(TINY.w_dim) / TINY.w_dim**0.5
    np.save(tmp_path / "smile.npy", (latents.tensor @ normal).numpy())
    common = ["fit", "--method", "interfacegan", "--network", tiny_checkpoint, "--outdir", tmp_path / "dirs"]
    common += ["--extreme-fraction", "0.5"]
    result = run(directions, [*common, "--scores", tmp_path / "smile.npy", "--latents", tmp_path / "w.safetensors"])
    assert result.exit_code == 0, result.output
    found = load_direction(tmp_path / "dirs" / "smile.safetensors", generator=generator)
    assert found.method == "interfacegan" and float(found.vector @ normal) > 0.8
    np.save(tmp_path / "short.npy", np.zeros(299))
    short = run(directions, [*common, "--scores", tmp_path / "short.npy", "--latents", tmp_path / "w.safetensors"])
    one_line_error(short, "has 299 scores but there are 300 latents")
    scored = run(directions, [*common, "--attribute", "age", "--num-samples", "40"])  # the bundled classifier
    assert scored.exit_code == 0, scored.output
    assert load_direction(tmp_path / "dirs" / "age.safetensors", generator=generator).method == "interfacegan"
    hat = run(directions, [*common, "--attribute", "hat"])
    assert hat.exit_code == 2 and "Invalid value for '--attribute': 'hat' is not one of 'age'" in hat.output


def test_apply_single_strength_sweep_and_layers(tmp_path: Path, tiny_checkpoint: Path, sefa_dir: Path) -> None:
    generator = load_generator(tiny_checkpoint)
    latents = sample_latents(generator, 2, space="w", seed=3)
    latents.save(tmp_path / "w.safetensors")
    direction_path = sefa_dir / "sefa0.safetensors"
    direction = load_direction(direction_path)
    base = ["--direction", direction_path, "--latents", tmp_path / "w.safetensors", "--network", tiny_checkpoint]
    out = tmp_path / "single"
    assert run(apply, [*base, "--strength", "2", "--outdir", out]).exit_code == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["edited_0000.png", "edited_0001.png"]
    edited, meta = load_latents(out / "edited.safetensors")
    assert torch.equal(edited.tensor, LinearEdit(direction, 2.0)(latents, num_ws=TINY.num_ws).tensor)
    assert meta["direction"] == "sefa0"
    swept = tmp_path / "sweep"
    assert run(apply, [*base, "--strength", "-1:1:3", "--layers", "0-1", "--outdir", swept]).exit_code == 0
    assert Image.open(swept / "sweep.png").size == (3 * 16, 2 * 16)
    edited_sweep, _ = load_latents(swept / "edited.safetensors")
    assert edited_sweep.tensor.shape == (6, TINY.num_ws, TINY.w_dim)
    assert torch.equal(edited_sweep.tensor[1], latents.to_w_plus(TINY.num_ws).tensor[0])  # strength 0
    assert torch.equal(edited_sweep.tensor[:, 2:], latents.to_w_plus(TINY.num_ws).tensor.repeat_interleave(3, 0)[:, 2:])


def test_apply_uses_the_handoff_and_conditions(
    tmp_path: Path, tiny_checkpoint: Path, sefa_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "directions").mkdir()
    shutil.copy(sefa_dir / "sefa0.safetensors", tmp_path / "directions")
    direction = ["--direction", "sefa0", "--strength", "1"]  # a name found in ./directions
    one_line_error(run(apply, direction), "no latents from a previous `project` or `encode`")
    Latents(torch.randn(1, TINY.num_ws, TINY.w_dim), LatentSpace.W_PLUS).save(
        tmp_path / "proj" / "projected.safetensors"
    )
    record_latents(tmp_path / "proj" / "projected.safetensors", command="project", network=tiny_checkpoint)
    result = run(apply, [*direction, "--condition", sefa_dir / "sefa1.safetensors", "--outdir", "edits"])
    assert result.exit_code == 0, result.output
    recorded = (tmp_path / "proj" / "projected.safetensors").resolve()
    assert result.output.splitlines()[0] == (
        f"latents: {recorded} (the last `project`, recorded in .stylegan-edit/last-latents.json)"
    )
    assert (tmp_path / "edits" / "edited.png").is_file()
    _, meta = load_latents(tmp_path / "edits" / "edited.safetensors")
    assert meta["source"].endswith("projected.safetensors") and "sefa1" in meta["conditions"]


def test_apply_bad_input(
    tmp_path: Path, tiny_checkpoint: Path, sefa_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./directions folder here
    latents_path = tmp_path / "w.safetensors"
    Latents(torch.randn(1, TINY.w_dim), LatentSpace.W).save(latents_path)
    base = ["--latents", latents_path, "--network", tiny_checkpoint, "--outdir", tmp_path / "o", "--strength", "1"]
    one_line_error(run(apply, [*base, "--direction", "age"]), "found for another generator: w_dim 128 vs 16")
    monkeypatch.setattr("stylegan_edit.assets.ASSETS", tmp_path / "none-installed")
    one_line_error(run(apply, [*base, "--direction", "age"]), "unknown direction 'age' (known: none)")
    listed = run(directions, ["list", "--dir", tmp_path / "none-here"])
    assert listed.exit_code == 0 and "no bundled directions in this installation" in listed.output
    other = tmp_path / "other.safetensors"
    Direction(torch.ones(8) / 8**0.5, LatentSpace.W, "other", "sefa").save(other)
    one_line_error(run(apply, [*base, "--direction", other]), "found for another generator: w_dim 8 vs 16")
    sefa = sefa_dir / "sefa0.safetensors"
    one_line_error(run(apply, [*base, "--direction", sefa, "--layers", "0-9"]), "layers 6, 7, 8, 9 out of range")
    assert run(apply, [*base, "--direction", sefa, "--strength", "1:2"]).exit_code == 2


@pytest.fixture
def model_b(tmp_path: Path) -> Path:
    path = tmp_path / "b.safetensors"
    save_network(path, make_generator(seed=1))
    return path


def test_blend_and_interpolate_write_native_checkpoints(tmp_path: Path, tiny_checkpoint: Path, model_b: Path) -> None:
    result = run(blend, [tiny_checkpoint, model_b, "--swap-res", 8, "--outdir", tmp_path / "blend"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "blend" / "blended.safetensors"
    blended, a, b = load_generator(out), load_generator(tiny_checkpoint), load_generator(model_b)
    assert torch.equal(blended.synthesis.b4.conv1.weight, a.synthesis.b4.conv1.weight)
    assert torch.equal(blended.synthesis.b8.conv0.weight, b.synthesis.b8.conv0.weight)
    assert torch.equal(blended.mapping.fc0.weight, a.mapping.fc0.weight)
    lerp = tmp_path / "lerp" / "interpolated.safetensors"
    assert run(interpolate, [tiny_checkpoint, model_b, "--alpha", 0, "--outdir", lerp.parent]).exit_code == 0
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in load_generator(lerp).state_dict().items())
    per_res = run(interpolate, [tiny_checkpoint, model_b, "--res-alpha", "4-8=1", "--outdir", lerp.parent])
    assert per_res.exit_code == 0 and torch.equal(
        load_generator(lerp).synthesis.b8.conv1.weight, b.synthesis.b8.conv1.weight
    )


def test_blend_bad_input(tmp_path: Path, tiny_checkpoint: Path, model_b: Path) -> None:
    bigger = tmp_path / "big.safetensors"
    save_network(bigger, make_generator(dataclasses.replace(TINY, img_resolution=32)))
    out = ["--outdir", tmp_path / "x"]
    one_line_error(
        run(blend, [tiny_checkpoint, bigger, "--swap-res", 8, *out]), "img_resolution is 16 in the first and 32"
    )
    one_line_error(run(blend, [tiny_checkpoint, model_b, "--swap-res", 64, *out]), "power of two from 4 to 32")
    odd = run(blend, [tiny_checkpoint, model_b, "--swap-res", 12, *out])
    assert odd.exit_code == 2 and "'--swap-res': 12 is not a power of two" in odd.output
    one_line_error(
        run(interpolate, [tiny_checkpoint, model_b, "--res-alpha", "64=1", *out]), "no block at resolution 64"
    )
    one_line_error(run(blend, [tiny_checkpoint, tmp_path / "nope.pkl", "--swap-res", 8, *out]), "no such checkpoint")
