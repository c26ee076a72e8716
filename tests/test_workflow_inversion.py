"""The inversion workflow API: presets drive the projector, the API gives what the CLI gives, inputs are checked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from stylegan_edit.encoders import encoder_for, save_encoder
from stylegan_edit.formats.native import load_network
from stylegan_edit.generators import Generator
from stylegan_edit.generators.wstats import w_stats
from stylegan_edit.images import load_image
from stylegan_edit.invert.schedule import NVIDIA, REFINE
from stylegan_edit.latents import Latents, LatentSpace, load_latents
from stylegan_edit.workflow.inversion import ProjectionProgress, ProjectionStart, encode, frame_steps, project
from stylegan_edit.workflow.outputs import save_inversion
from stylegan_edit.workflow.presets import PRESETS, Preset, get_preset
from tests.conftest import TINY_ENCODER

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    paths = []
    for i in range(3):
        pixels = np.random.RandomState(i).randint(0, 256, (20, 24, 3), dtype=np.uint8)
        paths.append(tmp_path / f"photo{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


@pytest.fixture
def tiny_psp(tmp_path: Path, tiny_generator: Generator) -> Path:
    path = tmp_path / "psp.safetensors"
    save_encoder(path, encoder_for(tiny_generator, "psp", num_w_samples=500, **TINY_ENCODER))  # type: ignore[arg-type]
    return path


def test_the_table_holds_the_four_recipes_with_the_projectors_schedules() -> None:
    assert list(PRESETS) == ["nvidia", "lbfgs", "encoder-lbfgs", "encoder-adam"]
    nvidia, lbfgs, encoder_lbfgs, encoder_adam = PRESETS.values()
    assert (nvidia.start, nvidia.optimizer, nvidia.num_steps, nvidia.schedule) == ("mean", "adam", 1000, NVIDIA)
    assert (lbfgs.start, lbfgs.optimizer, lbfgs.num_steps, lbfgs.schedule) == ("mean", "lbfgs", 200, None)
    assert (encoder_lbfgs.start, encoder_lbfgs.optimizer, encoder_lbfgs.num_steps) == ("encoder", "lbfgs", 100)
    assert (encoder_adam.start, encoder_adam.num_steps, encoder_adam.schedule) == ("encoder", 100, REFINE)
    assert nvidia.describe() == (
        "preset nvidia: Adam from the mean W, 1000 steps, lr 0.1, ramp-up 0.05, ramp-down 0.25, latent noise 0.05"
    )
    assert lbfgs.describe(num_steps=20) == "preset lbfgs: L-BFGS from the mean W, 20 steps"
    with pytest.raises(
        ValueError, match=r"^unknown preset 'fast' \(known: nvidia, lbfgs, encoder-lbfgs, encoder-adam\)$"
    ):
        get_preset("fast")
    with pytest.raises(ValueError, match="L-BFGS takes no lr schedule"):
        Preset("mine", "", start="mean", optimizer="lbfgs", num_steps=10, lr=0.1)
    with pytest.raises(ValueError, match="Adam needs lr"):
        Preset("mine", "", start="mean", optimizer="adam", num_steps=10)


@pytest.mark.parametrize(("preset", "steps"), [("nvidia", 4), ("lbfgs", 4)])
def test_the_api_gives_the_latents_the_cli_writes(
    tmp_path: Path, tiny_checkpoint: Path, photos: list[Path], preset: str, steps: int
) -> None:
    from stylegan_edit.cli.project import project as project_command

    args = [*map(str, photos), "--network", str(tiny_checkpoint), "--preset", preset, "--steps", str(steps)]
    result = CliRunner().invoke(project_command, [*args, "--seed", "7", "--batch-size", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    written, _ = load_latents(tmp_path / "out" / "project" / "projected.safetensors")
    network = load_network(tiny_checkpoint)
    api = project(network, photos, preset=preset, num_steps=steps, seed=7, batch_size=3)  # batching changes nothing
    assert torch.allclose(api.latents.tensor, written.tensor, atol=1e-6)
    assert api.preset is PRESETS[preset] and api.num_steps == steps and api.loss.name == "disc"
    saved = save_inversion(api, tmp_path / "api", sources=photos)
    assert saved.names == ["photo0", "photo1", "photo2"]
    for name in saved.names:
        cli_files = sorted(p.name for p in (tmp_path / "out" / "project" / name).iterdir())
        assert sorted(p.name for p in (tmp_path / "api" / name).iterdir()) == cli_files
    assert api.metrics["psnr"].shape == (3,) and bool((api.metrics["psnr"] > 0).all())


def test_each_preset_drives_its_optimiser_from_its_start(
    tiny_checkpoint: Path, tiny_psp: Path, photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stylegan_edit.workflow import inversion

    seen: list[dict[str, object]] = []
    original = inversion.Projector.__init__

    def spy(self: object, **kwargs: object) -> None:
        seen.append(kwargs)
        original(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inversion.Projector, "__init__", spy)
    network = load_network(tiny_checkpoint)
    generator = network.generator
    lbfgs = project(network, photos, preset="lbfgs", num_steps=12, loss="mse")
    assert seen[-1]["optimizer"] == "lbfgs" and seen[-1]["latent_noise"] == 0.0
    assert lbfgs.loss_history.shape == (12, 3)
    assert bool((lbfgs.loss_history[1:] <= lbfgs.loss_history[:-1]).all())  # each image's best so far
    assert bool((lbfgs.loss_history[-1] < lbfgs.loss_history[0]).all())
    # Adam's first step has lr 0 (the ramp-up), so one step leaves the start as it was.
    nvidia = project(network, photos[:1], preset="nvidia", num_steps=1)
    assert (seen[-1]["optimizer"], seen[-1]["lr"], seen[-1]["latent_noise"]) == ("adam", 0.1, 0.05)
    mean_w = w_stats(generator, num_samples=10000, seed=123).mean
    assert torch.allclose(nvidia.latents.tensor, mean_w.reshape(1, 1, -1).expand(1, generator.num_ws, -1))
    codes = encode(network, photos, encoder=tiny_psp).latents
    for name in ("encoder-lbfgs", "encoder-adam"):
        start = project(network, photos, preset=name, encoder=tiny_psp, num_steps=1)
        assert seen[-1]["optimizer"] == PRESETS[name].optimizer
        assert torch.allclose(start.latents.tensor, codes.tensor, atol=1e-6), name
        assert start.encoder == str(tiny_psp) and start.encoder_arch == "psp"
    assert (seen[-1]["lr"], seen[-1]["lr_rampup"], seen[-1]["latent_noise"]) == (0.25, 0.2, 0.0)


def test_inputs_are_refused_in_one_line_before_any_work(
    tiny_generator: Generator, photos: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"^preset lbfgs runs L-BFGS, which optimises the latents only"):
        project(tiny_generator, photos, preset="lbfgs", noise=True)
    with pytest.raises(ValueError, match=r"^preset encoder-lbfgs runs L-BFGS"):
        project(tiny_generator, photos, preset="encoder-lbfgs", noise=True)
    three = Latents(torch.zeros(3, 16), LatentSpace.W)
    with pytest.raises(ValueError, match=r"^init: 3 codes for 2 images \(give one, or one per image\)$"):
        project(tiny_generator, photos[:2], init=three)
    three.save(tmp_path / "three.safetensors")
    with pytest.raises(ValueError, match=r"three\.safetensors: 3 codes for 2 images"):
        project(tiny_generator, photos[:2], init=tmp_path / "three.safetensors")
    with pytest.raises(ValueError, match="cannot start from w\\+ latents"):
        project(tiny_generator, photos[:1], space="w", init=Latents(torch.zeros(1, 6, 16), LatentSpace.W_PLUS))
    with pytest.raises(ValueError, match="images must have shape \\[N, 3, 16, 16\\]"):
        project(tiny_generator, torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"^the checkpoint has no discriminator, so the 'disc' loss is unavailable"):
        project(tiny_generator, photos[:1], loss="disc")
    with pytest.raises(ValueError, match="optimisation diverged"):
        diverging = replace(PRESETS["nvidia"], name="wild", lr=1e30)
        project(tiny_generator, photos[:1], preset=diverging, num_steps=40, loss="mse")


def test_one_start_for_all_images_tensor_targets_frames_and_progress(
    tiny_generator: Generator, photos: list[Path]
) -> None:
    targets = torch.cat([load_image(p, 16) for p in photos])
    start = Latents(torch.randn(1, 16, generator=torch.Generator().manual_seed(0)), LatentSpace.W)
    events: list[object] = []
    result = project(
        tiny_generator,
        targets,
        preset="encoder-lbfgs",
        init=start,
        num_steps=10,
        num_frames=8,
        batch_size=2,
        progress=events.append,
    )
    assert isinstance(events[0], ProjectionStart) and events[0].start == "the given latents"
    assert events[0].lines[0] == "preset encoder-lbfgs: L-BFGS from the given latents, 10 steps"
    assert result.loss.name == "mse" and "no discriminator" in result.loss.reason  # a bare generator: pixels only
    steps = [e for e in events[1:] if isinstance(e, ProjectionProgress)]
    assert len(steps) == len(events) - 1 == 20 and [(e.first, e.count) for e in steps[::10]] == [(0, 2), (2, 1)]
    assert sorted(result.frames) == frame_steps(10, 8) == [0, 1, 3, 4, 5, 6, 8, 9]
    assert result.frames[0].shape == (3, 3, 16, 16) and torch.allclose(result.frames[9], result.images)
    from_paths = project(tiny_generator, photos, preset="encoder-lbfgs", init=start, num_steps=10, batch_size=2)
    assert torch.allclose(from_paths.latents.tensor, result.latents.tensor)
    assert torch.equal(from_paths.targets, targets)


def test_encode_gives_the_encoders_codes_and_their_metrics(
    tiny_checkpoint: Path, tiny_psp: Path, photos: list[Path], tmp_path: Path
) -> None:
    from stylegan_edit.encoders import read_encoder

    pictures = [Image.open(p) for p in photos]
    result = encode(str(tiny_checkpoint), pictures, encoder=tiny_psp, batch_size=2)
    targets = torch.cat([load_image(p, 16) for p in photos])
    assert torch.allclose(result.latents.tensor, read_encoder(tiny_psp).encode(targets).tensor, atol=1e-5)
    assert set(result.metrics) == {"mse", "psnr", "ssim", "perceptual"} and result.loss.metric is not None
    assert result.preset is None and result.network == str(tiny_checkpoint) and result.encoder_arch == "psp"
    saved = save_inversion(result, tmp_path / "enc")
    assert saved.names == ["image0", "image1", "image2"]
    _, meta = load_latents(tmp_path / "enc" / "image1" / "latents.safetensors")
    assert (meta["encoder"], meta["arch"], meta["network"]) == (str(tiny_psp), "psp", str(tiny_checkpoint))
