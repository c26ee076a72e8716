"""The filtered leaky ReLU of StyleGAN3 (arXiv:2106.12423, §3.2): bias, upsample with a low-pass filter, leaky
ReLU with gain and clamp, low-pass again and downsample; and the Kaiser / jinc filter designs it uses.

Semantics are those of NVIDIA's `filtered_lrelu` (zero insertion, padding in upsampled coordinates, true
convolution), computed without the zero-filled copy: the upsampling runs as a strided transposed convolution
(only the non-zero taps) and the downsampling as a strided convolution (only the kept samples), one axis at a
time for separable filters. Pure PyTorch, differentiable, fast on CPU; on CUDA PyTorch's own kernels run it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.signal
import scipy.special
import torch
import torch.nn.functional as F
from torch import Tensor


def design_lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, *, radial: bool = False
) -> Tensor | None:
    """A low-pass FIR filter: separable Kaiser-windowed sinc `[numtaps]`, or radially symmetric Kaiser-windowed
    jinc `[numtaps, numtaps]` (`radial`); None for one tap (the identity). Sums to 1; float32."""
    if numtaps < 1:
        raise ValueError(f"a filter needs at least one tap, got {numtaps}")
    if numtaps == 1:
        return None
    if not radial:
        taps = scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
        return torch.as_tensor(taps, dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    taps = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    window = np.kaiser(numtaps, beta)
    taps *= np.outer(window, window)
    taps /= np.sum(taps)
    return torch.as_tensor(taps, dtype=torch.float32)


def _upsample_axis(x: Tensor, taps: Tensor, up: int, pad: tuple[int, int], axis: int) -> Tensor:
    """Zero-insert by `up` along `axis` (2: rows, 3: columns), pad by `pad`, convolve with the 1-D `taps * up`."""
    channels = x.shape[1]
    k = taps.numel()
    shape = [1, 1, k, 1] if axis == 2 else [1, 1, 1, k]
    stride = (up, 1) if axis == 2 else (1, up)
    weight = (taps * up).to(x.dtype).reshape(shape).expand(channels, -1, -1, -1)
    # conv_transpose places x[i] * taps[j] at i * up + j: the full convolution of the zero-stuffed signal. The
    # padded result starts K - 1 - pad_lo samples into it and ends pad_hi + up - K samples past its end.
    x = F.conv_transpose2d(x, weight, stride=stride, groups=channels)
    lo, hi = pad[0] - k + 1, pad[1] + up - k
    return F.pad(x, [0, 0, lo, hi] if axis == 2 else [lo, hi]) if (lo, hi) != (0, 0) else x


def _downsample_axis(x: Tensor, taps: Tensor, down: int, axis: int) -> Tensor:
    """Convolve along `axis` with the 1-D `taps` (no padding) and keep every `down`-th sample."""
    channels = x.shape[1]
    k = taps.numel()
    shape = [1, 1, k, 1] if axis == 2 else [1, 1, 1, k]
    stride = (down, 1) if axis == 2 else (1, down)
    weight = taps.flip(0).to(x.dtype).reshape(shape).expand(channels, -1, -1, -1)
    return F.conv2d(x, weight, stride=stride, groups=channels)


def upfir(x: Tensor, f: Tensor | None, up: int, padding: Sequence[int]) -> Tensor:
    """NVIDIA's `upfirdn2d(x, f, up=up, padding=padding, gain=up**2)` for a separable (1-D) or absent filter."""
    px0, px1, py0, py1 = padding
    if f is None:
        if up != 1:
            raise ValueError("upsampling needs a filter")
        return F.pad(x, [px0, px1, py0, py1])
    if f.ndim != 1:
        raise ValueError("the upsampling filter must be separable (1-D)")
    x = _upsample_axis(x, f, up, (px0, px1), axis=3)
    return _upsample_axis(x, f, up, (py0, py1), axis=2)


def firdown(x: Tensor, f: Tensor | None, down: int) -> Tensor:
    """NVIDIA's `upfirdn2d(x, f, down=down)`: separable (1-D) or radial (2-D) filter, or none."""
    if f is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    if f.ndim == 1:
        x = _downsample_axis(x, f, down, axis=3)
        return _downsample_axis(x, f, down, axis=2)
    weight = f.flip([0, 1]).to(x.dtype)[None, None].expand(x.shape[1], 1, *f.shape)
    return F.conv2d(x, weight, stride=down, groups=x.shape[1])


def filtered_lrelu(
    x: Tensor,
    fu: Tensor | None,
    fd: Tensor | None,
    bias: Tensor | None,
    *,
    up: int,
    down: int,
    padding: Sequence[int],
    gain: float,
    slope: float,
    clamp: float | None,
) -> Tensor:
    """`x [N, C, H, W]` -> bias, upsample by `up` with `fu`, `clamp(lrelu(x, slope) * gain)`, filter with `fd` and
    keep every `down`-th sample. padding: `[x_lo, x_hi, y_lo, y_hi]` in upsampled coordinates (negative crops)."""
    source = x
    if bias is not None:
        x = x + bias.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfir(x, fu, up, padding)
    # In place only on a tensor made here that autograd does not need.
    inplace = x is not source and not (torch.is_grad_enabled() and x.requires_grad)
    if slope != 1:
        x = F.leaky_relu_(x, slope) if inplace else F.leaky_relu(x, slope)
    if gain != 1:
        x = x.mul_(gain) if inplace else x * gain
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return firdown(x, fd, down)
