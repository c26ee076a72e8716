"""Pivotal Tuning Inversion (arXiv:2106.05744): the locality regulariser keeps far codes' images, tuning beats the
pivot, tuned-generator files round-trip and refuse a wrong base, and `project --tune` then `apply` in an empty
folder renders the edit with the tuned generator."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from stylegan_edit.classifiers.train import HELD_OUT_SEED_OFFSET
from stylegan_edit.data import SynthFaces
from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import load_generator, save_network
from stylegan_edit.formats.tuned import is_tuned_delta, load_any_generator, load_tuned, save_tuned
from stylegan_edit.generators import AnyGenerator, StyleGAN3Config, StyleGAN3Generator
from stylegan_edit.generators.sampling import render, ws_from_seeds
from stylegan_edit.images import from_pil, read_image
from stylegan_edit.invert.pivotal import PivotalTuner, parameter_layers
from stylegan_edit.invert.projector import Projector
from stylegan_edit.latents import Latents, LatentSpace, load_latents
from stylegan_edit.perceptual import psnr
from stylegan_edit.perceptual.choice import choose_loss
from stylegan_edit.workflow.starts import load
from tests.conftest import make_generator

pytestmark = pytest.mark.usefixtures("isolated")  # private cache, no LPIPS weights, one thread


def _held_out_face() -> torch.Tensor:
    """A SynthFaces photo render `[1, 3, 64, 64]` that the GAN never saw."""
    return SynthFaces(1, size=64, style="photo", seed_offset=HELD_OUT_SEED_OFFSET)[0][0][None]


def _state(generator: AnyGenerator) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in generator.state_dict().items()}


def test_locality_keeps_far_codes_and_tuning_beats_the_pivot() -> None:
    network, _ = load("synthfaces-64", "cpu")
    generator = network.generator
    loss = choose_loss("auto", network)
    target = _held_out_face()
    projector = Projector(space="w", num_steps=30, perceptual=loss.perceptual, optimizer="lbfgs", latent_noise=0.0)
    pivot = projector.project(generator, target).latents
    pivot_psnr = float(psnr(render(generator, pivot), target)[0])
    # Far codes: psi-0.5 samples (as PTI's regulariser draws them), of other seeds than the regulariser's.
    far = Latents(ws_from_seeds(generator, range(1000, 1016), truncation_psi=0.5)[:, 0], LatentSpace.W)
    before = render(generator, far)
    base_state = _state(generator)
    kept, tuned_psnr = {}, {}
    for weight in (0.1, 0.0):
        tuner = PivotalTuner(num_steps=30, lr=1e-3, perceptual=loss.perceptual, locality_weight=weight)
        tuned = tuner.tune(generator, pivot, target)
        kept[weight] = float(psnr(render(tuned.generator, far), before).mean())
        tuned_psnr[weight] = float(psnr(render(tuned.generator, pivot), target)[0])
        assert tuned.num_steps == 30 and not tuned.converged
        assert not any(p.requires_grad for p in tuned.generator.parameters())
    # Measured: 32.6 dB with the regulariser, 26.3 without; the reconstruction 24.8 dB -> 31.9 / 32.3 dB.
    assert kept[0.1] > kept[0.0] + 3.0, kept
    assert kept[0.1] > 30.0, kept  # far images move by under 3% RMS of the range
    assert min(tuned_psnr.values()) > pivot_psnr + 5.0, (pivot_psnr, tuned_psnr)
    assert all(torch.equal(base_state[k], v) for k, v in generator.state_dict().items())  # the base is untouched


def test_only_layers_from_k_are_tuned_and_the_delta_holds_just_them(tmp_path: Path) -> None:
    generator = make_generator()
    layers = parameter_layers(generator)
    assert set(layers) == {f"synthesis.{name}" for name, _ in generator.synthesis.named_parameters()}
    assert max(layers.values()) == generator.num_ws - 1 and min(layers.values()) == 0
    pivots = Latents(generator.mapping(torch.randn(2, generator.z_dim))[:, 0], LatentSpace.W)
    targets = torch.rand(2, 3, 16, 16) * 2 - 1
    first = 3
    tuner = PivotalTuner(num_steps=3, lr=1e-2, perceptual_weight=0.0, first_layer=first)
    result = tuner.tune(generator, pivots, targets)
    base, tuned = generator.state_dict(), result.generator.state_dict()
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert changed and changed <= {name for name, layer in layers.items() if layer >= first}
    assert not any(k.startswith("mapping.") for k in changed)
    path = tmp_path / "tuned.safetensors"
    save_tuned(path, result.generator, generator, base_spec="synthfaces-64")
    with safe_open(str(path), framework="pt") as handle:
        assert {k.removeprefix("delta.") for k in handle.keys()} == changed  # noqa: SIM118 (not a dict)
    assert result.loss_history.shape == (3, 2) and bool((result.loss_history[-1] < result.loss_history[0]).all())


def _tuned_pair(seed: int = 0) -> tuple[AnyGenerator, AnyGenerator]:
    base = make_generator(seed=seed)
    tuned = copy.deepcopy(base)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(5)
        for name, param in tuned.named_parameters():
            if name.startswith("synthesis."):
                param.add_(torch.randn(param.shape, generator=gen) * 1e-2)
    return base, tuned


def test_tuned_file_round_trips_as_delta_and_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, tuned = _tuned_pair()
    base_path = tmp_path / "base.safetensors"
    save_network(base_path, base)
    ws = Latents(base.mapping(torch.randn(3, base.z_dim)), LatentSpace.W_PLUS)
    expected = render(tuned, ws)
    paths = {kind: tmp_path / f"{kind}.safetensors" for kind in ("fp32", "fp16", "full")}
    relative = Path(base_path.name)
    monkeypatch.chdir(tmp_path)
    save_tuned(paths["fp32"], tuned, base, base_spec=relative, dtype=torch.float32)
    save_tuned(paths["fp16"], tuned, base, base_spec=relative)
    save_tuned(paths["full"], tuned, base, base_spec=relative, full=True)
    assert is_tuned_delta(paths["fp16"]) and not is_tuned_delta(paths["full"]) and not is_tuned_delta(base_path)
    monkeypatch.chdir(tmp_path.parent)  # the base is recorded by absolute path: it loads from any folder
    for kind, path in paths.items():
        loaded = load_any_generator(path)
        atol = 2e-3 if kind == "fp16" else 1e-5
        assert torch.allclose(render(loaded, ws), expected, atol=atol, rtol=0), kind
        assert torch.equal(loaded.mapping.fc0.weight, base.mapping.fc0.weight)
    full = load_generator(paths["full"])  # a full file is a native network anywhere
    assert all(torch.equal(v, tuned.state_dict()[k]) for k, v in full.state_dict().items())
    assert paths["fp16"].stat().st_size < 0.6 * paths["full"].stat().st_size
    with safe_open(str(paths["fp16"]), framework="pt") as handle:
        assert handle.metadata()["base_network"] == str(base_path.resolve())


def test_a_delta_refuses_another_base(tmp_path: Path) -> None:
    base, tuned = _tuned_pair()
    base_path = tmp_path / "base.safetensors"
    save_network(base_path, base)
    path = tmp_path / "tuned.safetensors"
    save_tuned(path, tuned, base, base_spec=base_path)
    other = make_generator(seed=1)
    with pytest.raises(CheckpointError, match=r"was tuned from .* but the base given has fingerprint") as error:
        load_tuned(path, base=other)
    assert "\n" not in str(error.value)
    save_network(base_path, other)  # the recorded base file was replaced
    with pytest.raises(CheckpointError, match="load it with the generator it was tuned from"):
        load_any_generator(path)


def test_stylegan3_tuning_covers_every_synthesis_parameter() -> None:
    config = StyleGAN3Config(img_resolution=16, z_dim=8, w_dim=8, channel_base=256, channel_max=8, output_scale=1.0)
    torch.manual_seed(0)
    generator = StyleGAN3Generator(config).eval()
    layers = parameter_layers(generator)
    assert set(layers) == {f"synthesis.{name}" for name, _ in generator.synthesis.named_parameters()}
    assert sorted(set(layers.values())) == list(range(generator.num_ws))
    pivots = Latents(generator.mapping(torch.randn(1, 8)), LatentSpace.W_PLUS)
    targets = torch.rand(1, 3, 16, 16) * 2 - 1
    result = PivotalTuner(num_steps=4, lr=1e-2, perceptual_weight=0.0).tune(generator, pivots, targets)
    assert float(result.loss_history[-1, 0]) < float(result.loss_history[0, 0])


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "STYLEGAN_EDIT_CACHE": str(folder.parent / "cache"),
        "TORCH_HOME": str(folder.parent / "torch"),
    }
    command = [sys.executable, "-m", "stylegan_edit.cli", *args]  # the `stylegan-edit` entry point
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_project_tune_then_apply_renders_with_the_tuned_generator(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    from stylegan_edit.images import to_pil

    to_pil(_held_out_face())[0].save(folder / "photo.png")
    projected = _cli(folder, "project", "photo.png", "--space", "w", "--tune", "--steps", "5", "--tune-steps", "5")
    assert projected.returncode == 0, projected.stderr
    assert "pivotal tuning: 395,448 synthesis weights (all layers; mapping frozen), 5 steps" in projected.stdout
    assert "tuned generator: out/project/tuned.safetensors (a float16 delta against synthfaces-64" in projected.stdout
    record = json.loads((folder / ".stylegan-edit" / "last-latents.json").read_text())
    tuned_path = folder / "out" / "project" / "tuned.safetensors"
    assert record["format_version"] == 2 and record["tuned_network"] == str(tuned_path.resolve())
    metrics = json.loads((folder / "out" / "project" / "photo" / "metrics.json").read_text())
    assert metrics["psnr"] > metrics["pivot_psnr"]
    applied = _cli(folder, "apply", "--direction", "age", "--strength", "2")
    assert applied.returncode == 0, applied.stderr
    assert f"network: {tuned_path.resolve()} (the generator tuned around these latents)" in applied.stdout
    edited, _ = load_latents(folder / "out" / "edit" / "edited.safetensors")
    picture = from_pil(read_image(folder / "out" / "edit" / "edited.png"))
    by_tuned = render(load_tuned(tuned_path), edited)
    by_base = render(load_generator("synthfaces-64"), edited)
    off_tuned = float((picture - by_tuned).abs().mean())
    off_base = float((picture - by_base).abs().mean())
    assert off_tuned < 2 / 255 and off_base > 5 * off_tuned, (off_tuned, off_base)


def test_encode_tune_pivots_on_the_encoder_codes() -> None:
    from stylegan_edit.workflow.inversion import encode

    steps: list[int] = []
    result = encode(
        None, _held_out_face(), encoder="psp", tune=True, tune_steps=3, tune_progress=lambda s: steps.append(s.step)
    )
    assert result.tuning is not None and result.latents.space is LatentSpace.W_PLUS
    assert steps == [0, 1, 2] and result.tuning.num_steps == 3 and result.tuning.base_spec == "synthfaces-64"
    assert torch.allclose(result.images, render(result.tuning.generator, result.latents))
    assert not torch.allclose(result.images, result.tuning.pivot_images)
    with pytest.raises(ValueError, match="tune_first_layer must be below the generator's 10 W"):
        encode(None, _held_out_face(), tune=True, tune_first_layer=10)


def test_old_hand_off_records_still_read_and_tune_options_need_tune(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from stylegan_edit.cli.handoff import HANDOFF_PATH, find_last_latents
    from stylegan_edit.cli.main import cli

    latents = tmp_path / "projected.safetensors"
    Latents(torch.zeros(1, 4), LatentSpace.W).save(latents)
    record = tmp_path / HANDOFF_PATH
    record.parent.mkdir()
    old = {"format": "stylegan-edit/handoff", "format_version": 1, "latents": str(latents), "network": None}
    record.write_text(json.dumps({**old, "command": "project"}))
    handoff = find_last_latents(tmp_path)
    assert handoff.latents_path == latents and handoff.tuned_network is None
    record.write_text(json.dumps({**old, "format_version": 3}))
    with pytest.raises(ValueError, match="hand-off format version 3, newer than this stylegan-edit reads"):
        find_last_latents(tmp_path)
    result = CliRunner().invoke(cli, ["project", "photo.png", "--tune-steps", "5", "--tune-full"])
    assert result.exit_code == 2 and "--tune-steps, --tune-full given without --tune" in result.output
