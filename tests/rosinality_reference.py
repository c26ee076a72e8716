"""Test helper: rosinality/stylegan2-pytorch's forward math, written from docs/formats.md over its own tensor names.

It reads a rosinality `g_ema` / `d` state dict directly, so comparing it with our networks loaded through the
key map checks the map independently of our writer (a consistently swapped pair would survive a round trip but
not this). rosinality demodulates scaled weights, so images agree to ~1e-5, not bit for bit (§4.3).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

SQRT2 = math.sqrt(2)


def _fused_lrelu(x: Tensor, bias: Tensor) -> Tensor:
    return F.leaky_relu(x + bias.reshape(1, -1, *[1] * (x.ndim - 2)), 0.2) * SQRT2


def _upfirdn(x: Tensor, kernel: Tensor, *, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)) -> Tensor:
    """Per-plane zero insertion, symmetric pad, true convolution with `kernel`, decimation."""
    n, c, h, w = x.shape
    x = x.reshape(n * c, 1, h, w)
    if up > 1:
        y = x.new_zeros(n * c, 1, h * up, w * up)
        y[:, :, ::up, ::up] = x
        x = y
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    x = F.conv2d(x, kernel.flip([0, 1])[None, None])[:, :, ::down, ::down]
    return x.reshape(n, c, *x.shape[2:])


def _modulated_conv(
    state: dict[str, Tensor], prefix: str, x: Tensor, w: Tensor, *, demodulate: bool = True, upsample: bool = False
) -> Tensor:
    weight = state[f"{prefix}.weight"]
    _, out_ch, in_ch, k, _ = weight.shape
    n = x.shape[0]
    mod_w = state[f"{prefix}.modulation.weight"]
    style = F.linear(w, mod_w / math.sqrt(mod_w.shape[1]), state[f"{prefix}.modulation.bias"])
    wgt = weight / math.sqrt(in_ch * k * k) * style.reshape(n, 1, in_ch, 1, 1)
    if demodulate:
        wgt = wgt * torch.rsqrt(wgt.square().sum([2, 3, 4]) + 1e-8).reshape(n, out_ch, 1, 1, 1)
    if upsample:
        wgt = wgt.transpose(1, 2).reshape(n * in_ch, out_ch, k, k)
        out = F.conv_transpose2d(x.reshape(1, n * in_ch, *x.shape[2:]), wgt, stride=2, groups=n)
        out = out.reshape(n, out_ch, *out.shape[2:])
        return _upfirdn(out, state[f"{prefix}.blur.kernel"], pad=(1, 1))
    out = F.conv2d(
        x.reshape(1, n * in_ch, *x.shape[2:]), wgt.reshape(n * out_ch, in_ch, k, k), padding=k // 2, groups=n
    )
    return out.reshape(n, out_ch, *out.shape[2:])


def _styled_conv(state: dict[str, Tensor], prefix: str, x: Tensor, w: Tensor, noise: Tensor, upsample: bool) -> Tensor:
    out = _modulated_conv(state, f"{prefix}.conv", x, w, upsample=upsample)
    out = out + state[f"{prefix}.noise.weight"] * noise
    return _fused_lrelu(out, state[f"{prefix}.activate.bias"])


def _to_rgb(state: dict[str, Tensor], prefix: str, x: Tensor, w: Tensor, skip: Tensor | None) -> Tensor:
    out = _modulated_conv(state, f"{prefix}.conv", x, w, demodulate=False) + state[f"{prefix}.bias"]
    if skip is not None:
        out = out + _upfirdn(skip, state[f"{prefix}.upsample.kernel"], up=2, pad=(2, 1))
    return out


def mapping(state: dict[str, Tensor], z: Tensor, lr_mul: float = 0.01) -> Tensor:
    """`style(z)`: PixelNorm then n_mlp EqualLinear layers with fused lrelu. Returns w `[N, style_dim]`."""
    x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
    i = 1
    while f"style.{i}.weight" in state:
        weight = state[f"style.{i}.weight"]
        x = _fused_lrelu(F.linear(x, weight * lr_mul / math.sqrt(weight.shape[1])), state[f"style.{i}.bias"] * lr_mul)
        i += 1
    return x


def synthesis(state: dict[str, Tensor], latent: Tensor) -> Tensor:
    """`Generator(..., input_is_latent=True, randomize_noise=False)` on W+ `latent [N, n_latent, style_dim]`."""
    n = latent.shape[0]
    out = state["input.input"].repeat(n, 1, 1, 1)
    out = _styled_conv(state, "conv1", out, latent[:, 0], state["noises.noise_0"], upsample=False)
    skip = _to_rgb(state, "to_rgb1", out, latent[:, 1], None)
    j = 0
    while f"to_rgbs.{j}.bias" in state:
        i = 2 * j + 1
        out = _styled_conv(state, f"convs.{2 * j}", out, latent[:, i], state[f"noises.noise_{i}"], upsample=True)
        out = _styled_conv(state, f"convs.{2 * j + 1}", out, latent[:, i + 1], state[f"noises.noise_{i + 1}"], False)
        skip = _to_rgb(state, f"to_rgbs.{j}", out, latent[:, i + 2], skip)
        j += 1
    return skip


def _equal_conv(state: dict[str, Tensor], name: str, x: Tensor, *, stride: int = 1) -> Tensor:
    weight = state[name]
    scale = 1 / math.sqrt(weight.shape[1] * weight.shape[2] ** 2)
    return F.conv2d(x, weight * scale, stride=stride, padding=weight.shape[2] // 2 if stride == 1 else 0)


def discriminator(state: dict[str, Tensor], images: Tensor) -> Tensor:
    """rosinality's `Discriminator` (resnet, stddev group 4, one feature) -> logits `[N, 1]`."""
    x = _fused_lrelu(_equal_conv(state, "convs.0.0.weight", images), state["convs.0.1.bias"])
    i = 1
    while f"convs.{i}.conv1.0.weight" in state:
        p = f"convs.{i}"
        out = _fused_lrelu(_equal_conv(state, f"{p}.conv1.0.weight", x), state[f"{p}.conv1.1.bias"])
        out = _upfirdn(out, state[f"{p}.conv2.0.kernel"], pad=(2, 2))
        out = _fused_lrelu(_equal_conv(state, f"{p}.conv2.1.weight", out, stride=2), state[f"{p}.conv2.2.bias"])
        skip = _equal_conv(state, f"{p}.skip.1.weight", _upfirdn(x, state[f"{p}.skip.0.kernel"], pad=(1, 1)), stride=2)
        x = (out + skip) / SQRT2
        i += 1
    n, c, h, w = x.shape
    group = min(n, 4)
    std = x.reshape(group, -1, 1, c, h, w)
    std = torch.sqrt(std.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
    x = torch.cat([x, std.repeat(group, 1, h, w)], dim=1)
    x = _fused_lrelu(_equal_conv(state, "final_conv.0.weight", x), state["final_conv.1.bias"]).flatten(1)
    fc, out_w = state["final_linear.0.weight"], state["final_linear.1.weight"]
    x = _fused_lrelu(F.linear(x, fc / math.sqrt(fc.shape[1])), state["final_linear.0.bias"])
    return F.linear(x, out_w / math.sqrt(out_w.shape[1]), state["final_linear.1.bias"])
