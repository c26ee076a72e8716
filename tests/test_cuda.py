"""The same code on a CUDA device: generator, GAN trainer, encoder trainer and projection.

Skipped where torch sees no GPU (CI has none); run on a GPU machine with `pytest tests/test_cuda.py`.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from stylegan_edit.encoders import EncoderConfig, EncoderTrainer, EncoderTrainingOptions
from stylegan_edit.generators import Discriminator, Generator, Network
from stylegan_edit.invert import Projector
from stylegan_edit.perceptual.reconstruction import psnr
from stylegan_edit.training import Trainer, preset
from stylegan_edit.training.distributed import Distributed
from tests.conftest import TINY_ENCODER
from tests.test_projection import FAST
from tests.test_training import SmoothImages

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")
CUDA = torch.device("cuda")


def test_generator_on_cuda_matches_cpu(tiny_generator: Generator) -> None:
    z = torch.randn([4, tiny_generator.z_dim], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        on_cpu = tiny_generator(z, truncation_psi=0.7)
        on_gpu = copy.deepcopy(tiny_generator).to(CUDA)(z.to(CUDA), truncation_psi=0.7)
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_cpu, on_gpu.cpu(), atol=1e-2), float((on_cpu - on_gpu.cpu()).abs().max())


def test_gan_trainer_steps_on_cuda() -> None:
    trainer = Trainer(preset("tiny").replace(pl_interval=2, r1_interval=2), SmoothImages(16), device="cuda")
    stats = [trainer.step() for _ in range(4)]
    assert all(math.isfinite(s.loss_g) and math.isfinite(s.loss_d) for s in stats)
    assert stats[0].pl_penalty is not None and stats[0].r1_penalty is not None
    assert next(trainer.generator_ema.parameters()).device.type == "cuda"
    before = {k: v.clone() for k, v in trainer.generator_ema.state_dict().items()}
    trainer.step()
    assert any(not torch.equal(v, trainer.generator_ema.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("arch", ["psp", "e4e"])
def test_encoder_trainer_steps_on_cuda(arch: str, tiny_generator: Generator, tiny_discriminator: Discriminator) -> None:
    config = EncoderConfig.for_generator(tiny_generator, arch=arch, **TINY_ENCODER)  # type: ignore[arg-type]
    options = EncoderTrainingOptions.for_encoder(
        config, batch=4, lr=1e-3, perceptual="disc", progressive_start=0, progressive_every=1
    )
    network = Network(copy.deepcopy(tiny_generator), copy.deepcopy(tiny_discriminator))
    trainer = EncoderTrainer(options, network, SmoothImages(8), distributed=Distributed(device=CUDA))
    totals = [trainer.step().losses["total"] for _ in range(8)]
    assert all(math.isfinite(t) for t in totals)
    assert next(trainer.encoder.parameters()).device.type == "cuda"
    assert sum(totals[-3:]) < sum(totals[:3])


def test_projection_on_cuda_matches_cpu(tiny_generator: Generator) -> None:
    with torch.no_grad():
        z = torch.randn([1, tiny_generator.z_dim], generator=torch.Generator().manual_seed(5))
        targets = tiny_generator(z, truncation_psi=0.7).clamp(-1, 1)
    projector = Projector(space="w+", num_steps=200, **FAST)
    on_cpu = projector.project(tiny_generator, targets)
    on_gpu = projector.project(copy.deepcopy(tiny_generator).to(CUDA), targets.to(CUDA))
    assert on_gpu.images.device.type == "cuda"
    first, last = float(on_gpu.loss_history[0, 0]), float(on_gpu.loss_history[-1, 0])
    assert last < first / 10
    # Same seeds, same schedule: the devices differ only by rounding (0.0601 vs 0.0600 on an H100).
    assert last == pytest.approx(float(on_cpu.loss_history[-1, 0]), rel=0.05)
    assert float(psnr(on_gpu.images.cpu(), targets)[0]) == pytest.approx(
        float(psnr(on_cpu.images, targets)[0]), abs=0.5
    )


def test_lbfgs_projection_on_cuda(tiny_generator: Generator) -> None:
    with torch.no_grad():
        z = torch.randn([2, tiny_generator.z_dim], generator=torch.Generator().manual_seed(5))
        targets = tiny_generator(z, truncation_psi=0.7).clamp(-1, 1)
    projector = Projector(space="w+", num_steps=60, optimizer="lbfgs", **{**FAST, "latent_noise": 0.0})
    on_gpu = projector.project(copy.deepcopy(tiny_generator).to(CUDA), targets.to(CUDA))
    on_cpu = projector.project(tiny_generator, targets)
    assert on_gpu.images.device.type == "cuda" and on_gpu.latents.tensor.device.type == "cuda"
    assert bool((on_gpu.loss_history[-1] < on_gpu.loss_history[0] / 10).all())
    # Rounding differs by device and L-BFGS carries it along: compare the outcome, not the path.
    assert float(psnr(on_gpu.images.cpu(), targets).mean()) == pytest.approx(
        float(psnr(on_cpu.images, targets).mean()), abs=1.0
    )


def test_workflow_on_cuda_matches_cpu() -> None:
    """The bundled model through the workflow API: encoder + L-BFGS refinement and a plain encode give the same
    reconstructions on the GPU as on the CPU (metrics computed where the generator is)."""
    from stylegan_edit.formats import load_generator
    from stylegan_edit.workflow.editing import generate
    from stylegan_edit.workflow.inversion import encode, project

    targets = generate(load_generator("synthfaces-64"), [11, 12]).images
    results = {}
    for device in ("cpu", "cuda"):
        refined = project("synthfaces-64", targets, preset="encoder-lbfgs", num_steps=10, device=device)
        encoded = encode("synthfaces-64", targets, device=device)
        results[device] = (refined, encoded)
    for cpu, gpu in zip(results["cpu"], results["cuda"], strict=True):
        assert gpu.images.device.type == "cpu" and gpu.latents.tensor.shape == cpu.latents.tensor.shape
        assert torch.allclose(gpu.metrics["psnr"].cpu(), cpu.metrics["psnr"].cpu(), atol=0.5)
        assert float(gpu.metrics["psnr"].min()) > 20
