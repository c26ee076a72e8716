"""The fast paths against the reference ones: per-layer fused / non-fused modulated convolutions, the demodulation
shortcut, in-place activations under autograd, bfloat16 synthesis and LPIPS, and the projector's passes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from conftest import make_generator

from stylegan_edit.generators import GeneratorConfig
from stylegan_edit.generators.layers import FUSED_MAX_CHANNELS, modulated_conv2d, use_fused
from stylegan_edit.generators.ops import bias_act
from stylegan_edit.invert import Projector
from stylegan_edit.perceptual.losses import LPIPSLoss, lpips_weights_path

pytestmark = pytest.mark.usefixtures("one_thread")

# 256 channels up to 32 px, 128 at 64 px: both paths of the per-layer rule run.
MIXED = GeneratorConfig(img_resolution=64, z_dim=16, w_dim=16, mapping_layers=2, channel_base=128 * 64, channel_max=256)


def _render_and_grad(generator, ws: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    latent = ws.clone().requires_grad_(True)
    images = generator.synthesis(latent, noise_mode="const", **kwargs)
    weights = torch.linspace(-1, 1, images.numel()).reshape(images.shape)  # a loss whose gradient is not uniform
    (grad,) = torch.autograd.grad((images * weights).sum(), [latent])
    return images.detach(), grad


def test_the_per_layer_rule_picks_fused_only_where_it_measured_faster() -> None:
    narrow, wide = torch.zeros(FUSED_MAX_CHANNELS, 8, 3, 3), torch.zeros(FUSED_MAX_CHANNELS + 1, 8, 3, 3)
    x1, x2, w1 = torch.zeros(1, 8, 4, 4), torch.zeros(2, 8, 4, 4), torch.zeros(1, 16)
    with_grad = w1.clone().requires_grad_(True)
    assert use_fused(None, wide, x1, w1, training=False)  # no gradients: always fused at batch 1
    assert use_fused(None, narrow, x1, with_grad, training=False)
    assert not use_fused(None, wide, x1, with_grad, training=False)
    assert not use_fused(None, narrow, x2, w1.expand(2, -1), training=False)  # CPU batches: non-fused
    assert not use_fused(None, narrow, x1, w1, training=True)
    assert use_fused(True, wide, x2, w1, training=True) and not use_fused(False, narrow, x1, w1, training=False)


def test_per_layer_paths_render_and_differentiate_as_the_non_fused_reference() -> None:
    generator = make_generator(MIXED)
    ws = generator.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(0)))
    latent = ws.detach().requires_grad_(True)
    chosen = [
        use_fused(None, layer.weight, torch.zeros(1, 1), latent, training=False)
        for layer in generator.synthesis.weight_layers()
    ]
    assert any(chosen) and not all(chosen)  # both paths run in this generator
    images, grad = _render_and_grad(generator, ws.detach(), fused_modconv=None)
    ref_images, ref_grad = _render_and_grad(generator, ws.detach(), fused_modconv=False)
    torch.testing.assert_close(images, ref_images, rtol=1e-4, atol=1e-5)
    assert float((grad - ref_grad).norm() / ref_grad.norm()) < 1e-5  # float rounding (single entries cancel)


def test_demodulation_equals_nvidia_formula() -> None:
    gen = torch.Generator().manual_seed(3)
    x, weight = torch.randn(2, 6, 8, 8, generator=gen), torch.randn(5, 6, 3, 3, generator=gen)
    styles = torch.randn(2, 6, generator=gen)
    w = weight[None] * styles[:, None, :, None, None]
    w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()[:, :, None, None, None]  # NVIDIA's dcoefs, multiplied out
    expected = torch.cat([F.conv2d(x[i : i + 1], w[i], padding=1) for i in range(2)])
    for fused in (True, False):
        got = modulated_conv2d(x, weight, styles, padding=1, fused=fused)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_in_place_activation_keeps_autograd_exact() -> None:
    gen = torch.Generator().manual_seed(4)
    source = torch.randn(2, 3, 5, 5, generator=gen, requires_grad=True)
    bias = torch.randn(3, generator=gen, requires_grad=True)
    grads = []
    for inplace in (True, False):
        out = bias_act(source * 1.5, bias, activation="lrelu", gain=1.3, clamp=1.0, inplace=inplace)
        grads.append(torch.autograd.grad((out * out.detach().sign()).sum() + out.square().sum(), [source, bias]))
    for got, expected in zip(*grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_bfloat16_synthesis_stays_close_and_returns_float32() -> None:
    generator = make_generator(MIXED)
    ws = generator.mapping(torch.randn(2, 16, generator=torch.Generator().manual_seed(1)))
    images, grad = _render_and_grad(generator, ws, low_precision=True)
    ref_images, ref_grad = _render_and_grad(generator, ws)
    assert images.dtype == torch.float32
    psnr = -10 * torch.log10((images - ref_images).square().mean() / 4)
    assert 30 < float(psnr) < 80  # bfloat16 really ran (not bit-equal) and stays close
    assert float(F.cosine_similarity(grad.flatten(), ref_grad.flatten(), dim=0)) > 0.99


def test_projection_in_single_image_passes_equals_one_batched_pass(tiny_generator) -> None:  # type: ignore[no-untyped-def]
    targets = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    results = []
    for per_pass in (1, 3, None):
        projector = Projector(
            space="w+", num_steps=4, perceptual_weight=0.0, mse_weight=1.0, num_w_samples=200, images_per_pass=per_pass
        )
        results.append(projector.project(tiny_generator, targets).latents.tensor)
    torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-5)
    assert torch.equal(results[1], results[2])  # at 16 px the default is one pass for the batch
    with pytest.raises(ValueError, match="images_per_pass"):
        Projector(images_per_pass=0, perceptual_weight=0.0, mse_weight=1.0).project(tiny_generator, targets)


def test_low_precision_projection_is_off_by_default_below_256_px_and_close_when_forced() -> None:
    generator = make_generator(MIXED)
    with torch.no_grad():
        targets = generator.synthesis(generator.mapping(torch.randn(2, 16, generator=torch.Generator().manual_seed(5))))
    runs = {}
    for low in (None, False, True):
        projector = Projector(
            space="w+", num_steps=6, perceptual_weight=0.0, mse_weight=1.0, num_w_samples=200, low_precision=low
        )
        runs[low] = projector.project(generator, targets)
    assert torch.equal(runs[None].latents.tensor, runs[False].latents.tensor)
    assert not torch.equal(runs[True].latents.tensor, runs[False].latents.tensor)
    torch.testing.assert_close(runs[True].losses["mse"], runs[False].losses["mse"], rtol=0.05, atol=1e-4)


def test_a_failing_compile_falls_back_to_the_eager_result(tiny_generator, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    targets = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(6)) * 2 - 1

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: broken)
    settings = dict(space="w+", num_steps=3, perceptual_weight=0.0, mse_weight=1.0, num_w_samples=200)
    compiled = Projector(**settings, compile=True).project(tiny_generator, targets)  # type: ignore[arg-type]
    eager = Projector(**settings).project(tiny_generator, targets)  # type: ignore[arg-type]
    assert torch.equal(compiled.latents.tensor, eager.latents.tensor)


def test_lpips_under_bfloat16_autocast_stays_close_in_float32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    torch.manual_seed(0)
    model = torchvision.models.alexnet(weights=None)
    path = lpips_weights_path("alex")
    path.parent.mkdir(parents=True)
    torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")}, path)
    loss = LPIPSLoss("alex")
    gen = torch.Generator().manual_seed(7)
    images = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    targets = (images + 0.5 * torch.randn(images.shape, generator=gen)).clamp(-1, 1)
    with torch.no_grad():
        expected = loss(images, targets)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = loss(images, targets)
    assert got.dtype == torch.float32 and not torch.equal(got, expected)
    torch.testing.assert_close(got, expected, rtol=0.03, atol=1e-4)
