"""Pure-PyTorch low-level ops of StyleGAN2 (arXiv:1912.04958): FIR resampling and bias + activation.

Semantics follow NVIDIA's `upfirdn2d` / `bias_act` (docs/formats.md: NVIDIA network pickles), written without
custom CUDA kernels so they run, and differentiate, anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

Padding = tuple[int, int, int, int]  # x0, x1, y0, y1


def setup_filter(taps: Sequence[float]) -> Tensor:
    """The normalised 2-D outer-product FIR filter `[k, k]` that sums to 1."""
    f = torch.as_tensor(list(taps), dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def _as_padding(padding: int | Sequence[int]) -> Padding:
    if isinstance(padding, int):
        return (padding, padding, padding, padding)
    if len(padding) == 2:
        px, py = padding
        return (px, px, py, py)
    px0, px1, py0, py1 = padding
    return (px0, px1, py0, py1)


def upfirdn2d(
    x: Tensor,
    f: Tensor,
    *,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> Tensor:
    """Upsample by zero insertion, pad, convolve with the 2-D FIR `f`, then keep every `down`-th pixel.

    x: `[N, C, H, W]`; negative padding crops. The filter is applied as a true convolution unless
    `flip_filter`, and is scaled by `gain` (NVIDIA uses `up**2` when upsampling to keep the mean).
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = _as_padding(padding)
    kh, kw = f.shape
    crop = kw - 1 - px0
    if up > 1 and down == 1 and kh == kw and (px0, px1) == (py0, py1) and crop == kw - up - px1 and crop >= 0:
        # Zero insertion + pad + FIR equals one strided transposed convolution, without the zero-filled copy.
        weight = (f * gain).to(x.dtype)
        if flip_filter:
            weight = weight.flip([0, 1])
        weight = weight[None, None].expand(c, 1, kh, kw)
        return F.conv_transpose2d(x, weight, stride=up, padding=crop, groups=c)
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    conv_padding = 0
    if px0 == px1 == py0 == py1 >= 0:
        conv_padding = px0  # let the convolution pad: saves a padded copy of a large tensor
    else:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
        x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    weight = (f * gain).to(x.dtype)
    if not flip_filter:
        weight = weight.flip([0, 1])
    weight = weight[None, None].expand(c, 1, *weight.shape)
    x = F.conv2d(x, weight, padding=conv_padding, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: Tensor, f: Tensor, *, up: int = 2, padding: int | Sequence[int] = 0) -> Tensor:
    """NVIDIA's `upsample2d`: FIR upsampling that keeps the signal's mean (gain `up**2`)."""
    px0, px1, py0, py1 = _as_padding(padding)
    fw = f.shape[-1]
    pad = (px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2, py0 + (fw + up - 1) // 2, py1 + (fw - up) // 2)
    return upfirdn2d(x, f, up=up, padding=pad, gain=up * up)


def downsample2d(x: Tensor, f: Tensor, *, down: int = 2, padding: int | Sequence[int] = 0) -> Tensor:
    """NVIDIA's `downsample2d`: FIR low-pass then decimation."""
    px0, px1, py0, py1 = _as_padding(padding)
    fw = f.shape[-1]
    pad = (px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2, py0 + (fw - down + 1) // 2, py1 + (fw - down) // 2)
    return upfirdn2d(x, f, down=down, padding=pad)


ACTIVATION_GAIN = {"linear": 1.0, "lrelu": math.sqrt(2.0)}


def bias_act(
    x: Tensor,
    bias: Tensor | None = None,
    *,
    activation: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    dim: int = 1,
    inplace: bool = False,
) -> Tensor:
    """`clamp(act(x + bias) * gain, -clamp, clamp)` with NVIDIA's default gains (lrelu slope 0.2, gain √2).

    `inplace`: the caller will not use `x` again, so it may be overwritten to save memory and passes at high
    resolution; with gradients, only the steps whose backward keeps no overwritten value run in place (the bias
    addition and the lrelu, which keeps its own result).
    """
    if activation not in ACTIVATION_GAIN:
        raise ValueError(f"unknown activation {activation!r}")
    if bias is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        b = bias.reshape(shape).to(x.dtype)
        x = x.add_(b) if inplace else x + b
    if activation == "lrelu":
        x = F.leaky_relu_(x, 0.2) if inplace else F.leaky_relu(x, 0.2)
    if torch.is_grad_enabled() and x.requires_grad:
        inplace = False  # the lrelu's backward reads its result; the clamp's reads its input
    g = ACTIVATION_GAIN[activation] if gain is None else gain
    if g != 1:
        x = x.mul_(g) if inplace else x * g
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x
