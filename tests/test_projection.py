"""The projector on the tiny generator: recovery in W and W+, noise regularisation, batching, init, losses, metrics."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from stylegan_edit.generators import Generator, Network, wstats
from stylegan_edit.generators.wstats import w_stats
from stylegan_edit.invert import Projector
from stylegan_edit.invert.noise import noise_regularization
from stylegan_edit.invert.schedule import latent_noise_scale, learning_rate
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.perceptual import auto_perceptual_loss, perceptual_loss, register_feature_extractor
from stylegan_edit.perceptual import losses as losses_module
from stylegan_edit.perceptual.reconstruction import psnr, reconstruction_metrics, ssim

FAST = {"num_w_samples": 1000, "mse_weight": 1.0, "perceptual_weight": 0.0}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("STYLEGAN_EDIT_CACHE", str(cache))
    return cache


pytestmark = pytest.mark.usefixtures("one_thread")


def _targets(generator: Generator, seeds: list[int], psi: float = 0.7) -> tuple[Tensor, Tensor]:
    z = torch.cat([torch.randn(1, generator.z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
    with torch.no_grad():
        ws = generator.mapping(z, truncation_psi=psi)
        return ws, generator.synthesis(ws)


def test_w_projection_recovers_the_latent(tiny_generator: Generator) -> None:
    ws, targets = _targets(tiny_generator, [5])
    result = Projector(space="w", num_steps=120, **FAST).project(tiny_generator, targets)
    assert result.loss_history[-1, 0] < result.loss_history[0, 0] / 1000
    assert float(psnr(result.images, targets)[0]) > 35
    relative_error = (result.latents.tensor[0] - ws[0, 0]).norm() / ws[0, 0].norm()
    assert float(relative_error) < 0.05
    assert result.latents.space is LatentSpace.W and result.loss == "1*mse"


def test_w_plus_projection_reconstructs_the_image(tiny_generator: Generator) -> None:
    _, targets = _targets(tiny_generator, [5])
    result = Projector(space="w+", num_steps=300, **FAST).project(tiny_generator, targets)
    assert result.latents.tensor.shape == (1, tiny_generator.num_ws, tiny_generator.w_dim)
    assert result.loss_history[-1, 0] < result.loss_history[0, 0] / 100
    assert float(psnr(result.images, targets)[0]) > 30


def test_noise_regularisation_keeps_maps_white_and_unit_variance(tiny_generator: Generator) -> None:
    _, targets = _targets(tiny_generator, [5, 6])
    targets = targets + 0.3 * torch.randn(targets.shape, generator=torch.Generator().manual_seed(1))
    before = [layer.noise_const.clone() for layer in tiny_generator.synthesis.noise_layers()]
    settings = {**FAST, "space": "w+", "num_steps": 60, "optimize_noise": True}
    regularised = Projector(**settings).project(tiny_generator, targets)
    free = Projector(**settings, noise_weight=0.0).project(tiny_generator, targets)
    for maps in (regularised.noise, free.noise):
        assert [m.shape[-1] for m in maps] == [4, 8, 8, 16, 16]
        for m in maps:
            assert torch.allclose(m.mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5)
            assert torch.allclose(m.square().mean(dim=(1, 2, 3)), torch.ones(2), atol=1e-4)
    # Without the regulariser the maps absorb image structure (autocorrelation); with it they stay white noise.
    assert float(noise_regularization(regularised.noise).max()) < 1e-3
    assert float(noise_regularization(free.noise).min()) > 20 * float(noise_regularization(regularised.noise).max())
    after = [layer.noise_const for layer in tiny_generator.synthesis.noise_layers()]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_noise_optimisation_starts_from_the_generators_maps(tiny_generator: Generator) -> None:
    _, targets = _targets(tiny_generator, [5])
    settings = {**FAST, "space": "w+", "num_steps": 3}
    with_noise = next(Projector(**settings, optimize_noise=True).steps(tiny_generator, targets))
    without = next(Projector(**settings).steps(tiny_generator, targets))
    assert torch.allclose(with_noise.losses["mse"], without.losses["mse"], rtol=1e-5)


def test_noise_regularization_matches_nvidia_loop() -> None:
    maps = [torch.randn(1, 1, r, r, generator=torch.Generator().manual_seed(r)) for r in (4, 16, 32)]
    maps = [m + 0.5 * torch.roll(m, 1, dims=3) for m in maps]  # correlated, so every level contributes
    expected = 0.0
    for noise in maps:  # NVIDIA's projector.py, verbatim in structure
        while True:
            expected += (noise * torch.roll(noise, shifts=1, dims=3)).mean() ** 2
            expected += (noise * torch.roll(noise, shifts=1, dims=2)).mean() ** 2
            if noise.shape[2] <= 8:
                break
            noise = F.avg_pool2d(noise, kernel_size=2)
    assert float(noise_regularization(maps)[0]) == pytest.approx(float(expected), rel=1e-6)


def test_schedules_follow_nvidia() -> None:
    kwargs = {"lr": 0.1, "rampup": 0.05, "rampdown": 0.25}
    assert learning_rate(0.0, **kwargs) == 0.0
    assert learning_rate(0.5, **kwargs) == pytest.approx(0.1)
    assert learning_rate(0.025, **kwargs) == pytest.approx(0.05)
    assert learning_rate(0.875, **kwargs) == pytest.approx(0.1 * (0.5 - 0.5 * math.cos(math.pi * 0.5)))
    assert latent_noise_scale(0.0, std=2.0, strength=0.05, ramp=0.75) == pytest.approx(0.1)
    assert latent_noise_scale(0.75, std=2.0, strength=0.05, ramp=0.75) == 0.0


def test_batched_and_single_projection_agree(tiny_generator: Generator) -> None:
    _, targets = _targets(tiny_generator, [5, 6])
    projector = Projector(space="w+", num_steps=40, optimize_noise=True, **FAST)
    batched = projector.project(tiny_generator, targets)
    first = projector.project(tiny_generator, targets[:1])
    second = projector.project(tiny_generator, targets[1:], seed_offset=1)
    for i, single in enumerate((first, second)):
        assert torch.allclose(batched.latents.tensor[i], single.latents.tensor[0], atol=1e-4)
        assert torch.allclose(batched.images[i], single.images[0], atol=1e-4)
        assert torch.allclose(batched.loss_history[:, i], single.loss_history[:, 0], rtol=1e-4, atol=1e-6)


def test_steps_yields_progress(tiny_generator: Generator) -> None:
    _, targets = _targets(tiny_generator, [5, 6])
    progress = list(Projector(space="w", num_steps=5, **FAST).steps(tiny_generator, targets))
    assert [p.step for p in progress] == [0, 1, 2, 3, 4] and progress[0].lr == 0.0
    assert set(progress[-1].losses) == {"mse", "total"} and progress[-1].losses["mse"].shape == (2,)
    assert progress[-1].latents.space is LatentSpace.W and progress[-1].noise == []


def test_init_from_latents_file_encoder_and_mismatches(tiny_generator: Generator, tmp_path: Path) -> None:
    ws, targets = _targets(tiny_generator, [5])
    exact = Latents(ws[:, 0], LatentSpace.W)
    path = tmp_path / "init.safetensors"
    exact.save(path)
    settings = {**FAST, "space": "w+", "num_steps": 2, "latent_noise": 0.0}
    for init in (exact, path, lambda images: exact):
        first = next(Projector(**settings).steps(tiny_generator, targets, init))
        assert float(first.losses["total"][0]) < 1e-8
    with pytest.raises(ValueError, match="init: latents with w_dim 8, but the generator needs 16"):
        Projector(**settings).project(tiny_generator, targets, Latents(torch.zeros(1, 8), LatentSpace.W))
    with pytest.raises(ValueError, match=r"latents with 7 layers \(num_ws\), but the generator needs 6"):
        Projector(**settings).project(tiny_generator, targets, Latents(torch.zeros(1, 7, 16), LatentSpace.W_PLUS))
    with pytest.raises(ValueError, match="cannot start from w\\+ latents"):
        Projector(**{**settings, "space": "w"}).project(tiny_generator, targets, exact.to_w_plus(6))


def test_nan_loss_raises_a_clear_error(tiny_generator: Generator) -> None:
    _, targets = _targets(tiny_generator, [5])
    with pytest.raises(ValueError, match=r"optimisation diverged \(NaN loss\) at step \d+; try a lower --lr"):
        Projector(space="w", num_steps=50, lr=1e30, **FAST).project(tiny_generator, targets)


def test_w_stats_follow_nvidia_and_are_cached(tiny_generator: Generator, private_cache: Path) -> None:
    wstats._MEMORY_CACHE.clear()
    stats = w_stats(tiny_generator, num_samples=500)
    z = torch.from_numpy(np.random.RandomState(123).randn(500, 16)).float()
    with torch.no_grad():
        w = tiny_generator.mapping(z)[:, 0].double()
    mean = w.mean(dim=0)
    assert torch.allclose(stats.mean.double(), mean, atol=1e-5)
    assert stats.std == pytest.approx(float(((w - mean).square().sum() / 500).sqrt()), rel=1e-5)
    assert len(list((private_cache / "w-stats").glob("*.safetensors"))) == 1
    wstats._MEMORY_CACHE.clear()  # the disk copy is read back identically
    again = w_stats(tiny_generator, num_samples=500)
    assert torch.equal(again.mean, stats.mean) and again.std == stats.std


def test_perceptual_fallback_needs_no_download(
    tiny_generator: Generator, tiny_discriminator: torch.nn.Module, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    network = Network(tiny_generator, tiny_discriminator)  # type: ignore[arg-type]
    logger = logging.getLogger("stylegan_edit.perceptual")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        loss = auto_perceptual_loss(network)
    finally:
        logger.removeHandler(handler)
    assert loss is not None and loss.name == "disc"
    assert records == []  # the caller says which loss runs (choose_loss(...).describe())
    _, targets = _targets(tiny_generator, [5, 6])
    assert torch.allclose(loss(targets, targets), torch.zeros(2), atol=1e-6)
    assert float(loss(targets, targets.flip(0)).detach().min()) > 0
    result = Projector(space="w", num_steps=30, num_w_samples=1000, perceptual=loss).project(tiny_generator, targets)
    assert result.loss == "1*disc" and result.loss_history[-1].sum() < result.loss_history[0].sum()
    with pytest.raises(ValueError, match=r"vgg16-397923af\.pth"):
        perceptual_loss("lpips", network)
    assert auto_perceptual_loss(Network(tiny_generator)) is None


def test_registered_extractor_is_preferred(
    tiny_generator: Generator, tiny_discriminator: torch.nn.Module, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(losses_module, "_EXTRACTORS", dict(losses_module._EXTRACTORS))
    register_feature_extractor("probe", lambda net: lambda images: [images, F.avg_pool2d(images, 2)])
    network = Network(tiny_generator, tiny_discriminator)  # type: ignore[arg-type]
    loss = auto_perceptual_loss(network)
    assert loss is not None and loss.name == "probe"
    assert perceptual_loss("probe", network).name == "probe"
    # The built-in classifier features apply to SynthFaces networks only, so this one falls through to D.
    assert "classifier" in losses_module.registered_feature_extractors()
    register_feature_extractor("probe", lambda net: None)
    assert auto_perceptual_loss(network).name == "disc"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="do not apply to this network"):
        perceptual_loss("classifier", network)
    with pytest.raises(ValueError, match="built-in"):
        register_feature_extractor("disc", lambda net: None)


def test_lpips_used_when_trunk_weights_are_cached(
    tiny_generator: Generator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    torchvision = pytest.importorskip("torchvision")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    path = losses_module.lpips_weights_path("squeeze")
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.squeezenet1_1().state_dict(), path)  # stands in for the ImageNet weights
    loss = perceptual_loss("lpips-squeeze", Network(tiny_generator))
    assert loss.name == "lpips-squeeze"
    _, targets = _targets(tiny_generator, [5, 6])
    assert torch.allclose(loss(targets, targets), torch.zeros(2), atol=1e-6)
    assert float(loss(targets, targets.flip(0)).min()) > 0


def test_reconstruction_metrics_match_definitions() -> None:
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 24, 20, generator=gen) * 2 - 1
    targets = (images + 0.2 * torch.randn(images.shape, generator=gen)).clamp(-1, 1)
    metrics = reconstruction_metrics(images, targets)
    mse01 = (((images + 1) / 2 - (targets + 1) / 2) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(metrics["mse"], mse01) and torch.allclose(metrics["psnr"], -10 * mse01.log10())
    for i in range(2):
        reference = structural_similarity(
            ((images[i] + 1) / 2).permute(1, 2, 0).double().numpy(),
            ((targets[i] + 1) / 2).permute(1, 2, 0).double().numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=2,
        )
        assert float(metrics["ssim"][i]) == pytest.approx(reference, abs=1e-5)
    assert float(ssim(images, images)[0]) == pytest.approx(1.0)


def _no_download(*args: object, **kwargs: object) -> None:
    raise AssertionError("a download was attempted")
