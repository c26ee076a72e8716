"""Our ReStyle encoders (arch restyle-psp / restyle-e4e): the warm start from pSp / e4e, the iterations, training
as the reference coach does, files, and `train-encoder` / `encode --iterations` through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner, Result

from stylegan_edit.cli.encode import encode
from stylegan_edit.cli.train_encoder import ARCH_CHOICES, TRAINING_ITERATIONS, train_encoder
from stylegan_edit.encoders import (
    EncoderConfig,
    EncoderTrainer,
    EncoderTrainingOptions,
    IterativeEncoder,
    encoder_for,
    read_encoder,
    restyle_from,
    save_encoder,
)
from stylegan_edit.encoders.config import ARCHS, DEFAULT_ITERATIONS
from stylegan_edit.generators import Discriminator, Generator, Network
from stylegan_edit.latents import load_latents
from stylegan_edit.workflow.starts import encoder_pass, load_checked_encoder
from tests.conftest import TINY_ENCODER

pytestmark = pytest.mark.usefixtures("isolated")


def _targets(generator: Generator, num: int = 4, seed: int = 100) -> torch.Tensor:
    with torch.no_grad():
        z = torch.randn([num, generator.z_dim], generator=torch.Generator().manual_seed(seed))
        return generator(z, truncation_psi=0.7).clamp(-1, 1)


def _run(command: object, *args: str | Path) -> Result:
    return CliRunner().invoke(command, [str(a) for a in args])  # type: ignore[arg-type]


def _trained(generator: Generator, arch: str) -> torch.nn.Module:
    """A base encoder with non-zero heads (a fresh one's heads are random, which is all the warm start needs)."""
    return encoder_for(generator, arch, num_w_samples=500, **TINY_ENCODER)  # type: ignore[arg-type]


def test_the_cli_spells_the_archs_and_iterations_of_the_library() -> None:
    assert ARCH_CHOICES == ARCHS and TRAINING_ITERATIONS == DEFAULT_ITERATIONS


@pytest.mark.parametrize("arch", ["psp", "e4e"])
def test_first_iteration_of_a_warm_started_restyle_encoder_is_its_base_pass(
    arch: str, tiny_generator: Generator
) -> None:
    base = _trained(tiny_generator, arch).eval()
    restyle = restyle_from(base).eval()  # type: ignore[arg-type]
    assert restyle.arch == f"restyle-{arch}" and restyle.config.input_channels == 6
    targets = _targets(tiny_generator)
    with torch.no_grad():
        expected = base(targets)
        steps = [codes for codes, _ in restyle.restyle_steps(targets, tiny_generator, 3)]
    # The reconstruction's channels read zero weights: only the convolution's summation order differs.
    torch.testing.assert_close(steps[0], expected, rtol=0, atol=1e-5)
    # Later iterations add the residual of (target ‖ reconstruction) to the previous codes.
    assert not torch.allclose(steps[1], steps[0], atol=1e-3)
    with pytest.raises(ValueError, match="iterates with its generator"):
        restyle.encode(targets)
    with pytest.raises(ValueError, match="already"):
        restyle_from(restyle)


def test_iterative_encoder_returns_every_iterations_codes(tiny_generator: Generator) -> None:
    restyle = restyle_from(_trained(tiny_generator, "e4e")).eval()  # type: ignore[arg-type]
    runner = restyle.with_generator(tiny_generator)
    assert isinstance(runner, IterativeEncoder) and runner.arch == "restyle-e4e"
    targets = _targets(tiny_generator, 2)
    final, steps = runner.encode(targets, 4, return_steps=True)
    assert len(steps) == 4 and torch.equal(final.tensor, steps[-1].tensor)
    torch.testing.assert_close(runner.encode(targets, 2).tensor, steps[1].tensor)
    with pytest.raises(ValueError, match="at least 1"):
        runner.encode(targets, 0)
    # The workflow's dispatch: our ReStyle encoder comes with the generator and runs its iterations.
    model, label = load_checked_encoder(restyle, tiny_generator, None)
    run, count = encoder_pass(model, label, 3)
    assert count == 3 and torch.equal(run(targets).tensor, steps[2].tensor)
    one_pass, _ = load_checked_encoder(_trained(tiny_generator, "psp"), tiny_generator, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iterations apply to ReStyle encoders only"):
        encoder_pass(one_pass, "psp", 3)


@pytest.mark.parametrize("arch", ["restyle-psp", "restyle-e4e"])
def test_restyle_training_steps_lower_every_iterations_loss(
    arch: str, tiny_generator: Generator, tiny_discriminator: Discriminator
) -> None:
    network = Network(tiny_generator, tiny_discriminator)
    targets = _targets(tiny_generator)

    class Fixed(torch.utils.data.Dataset[torch.Tensor]):
        def __len__(self) -> int:
            return len(targets)

        def __getitem__(self, index: int) -> torch.Tensor:
            return targets[index]

    config = EncoderConfig.for_generator(tiny_generator, arch=arch, **TINY_ENCODER)  # type: ignore[arg-type]
    options = EncoderTrainingOptions.for_encoder(
        config, batch=4, lr=1e-3, perceptual="disc", synthetic_fraction=0.0, progressive_start=0, iterations=3
    )
    trainer = EncoderTrainer(options, network, Fixed())

    def losses() -> list[float]:
        with torch.no_grad():
            steps = trainer.encoder.restyle_steps(
                targets, tiny_generator, 3, num_offsets=trainer.options.num_offsets(0)
            )
            return [float(trainer.terms(ws, images, targets, None, 0)["mse"]) for ws, images in steps]  # type: ignore[arg-type]

    before = losses()
    for _ in range(6):
        stats = trainer.step()
    after = losses()
    assert all(a < 0.9 * b for a, b in zip(after, before, strict=True)), (before, after)
    assert {"mse", "perceptual", "total"} <= set(stats.losses)


def test_restyle_files_round_trip(tmp_path: Path, tiny_generator: Generator) -> None:
    restyle = restyle_from(_trained(tiny_generator, "psp"))  # type: ignore[arg-type]
    save_encoder(tmp_path / "restyle.safetensors", restyle)
    loaded = read_encoder(tmp_path / "restyle.safetensors")
    assert loaded.config == restyle.config and loaded.arch == "restyle-psp"
    for key, value in restyle.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_train_encoder_warm_starts_restyle_and_encode_iterates_it(tmp_path: Path, tiny_checkpoint: Path) -> None:
    base = ["--network", tiny_checkpoint, "--no-progress", "--device", "cpu", "--synthetic-fraction", "1"]
    first = _run(train_encoder, *base, "--arch", "psp", "--outdir", "psp", "--steps", "2", "--batch", "2")
    assert first.exit_code == 0, first.output
    snapshot = tmp_path / "psp" / "encoder-0000002.safetensors"
    warm = [*base, "--arch", "restyle-psp", "--resume-from", snapshot, "--outdir", "rs", "--steps", "4"]
    result = _run(train_encoder, *warm, "--iterations", "2")
    assert result.exit_code == 0, result.output
    assert "warm-starting restyle-psp from the psp encoder" in result.output
    trained = read_encoder(tmp_path / "rs" / "encoder-0000004.safetensors")
    assert trained.arch == "restyle-psp"
    assert json.loads(trained.metadata["training_options"])["iterations"] == 2
    refused = _run(train_encoder, *base, "--arch", "restyle-e4e", "--resume-from", snapshot, "--outdir", "x")
    assert refused.exit_code != 0 and "is an encoder of arch psp, not restyle-e4e" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "x").exists()

    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (20, 20), (120, 80, 60)).save(photo)
    out = tmp_path / "out"
    encoded = _run(
        encode, photo, "--encoder", tmp_path / "rs" / "encoder-0000004.safetensors", "--network", tiny_checkpoint,
        "--iterations", "3", "--outdir", out, "--no-progress",
    )  # fmt: skip
    assert encoded.exit_code == 0, encoded.output
    assert "3 iterations" in encoded.output
    latents = [load_latents(p)[0] for p in out.rglob("*.npz")]
    assert latents and latents[0].tensor.shape[-2:] == (6, 16)
