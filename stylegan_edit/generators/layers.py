"""Equalised-learning-rate layers and the modulated, demodulated convolution of StyleGAN2 (arXiv:1912.04958).

Parameter names, initialisation and run-time gains follow NVIDIA's stylegan2-ada-pytorch so that its state
dicts load with `strict=True` and reproduce its images (docs/formats.md: NVIDIA network pickles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.generators.ops import ACTIVATION_GAIN, bias_act, setup_filter, upfirdn2d


class FullyConnectedLayer(nn.Module):
    """Dense layer with equalised learning rate: stored weight `randn / lr`, run-time gain `lr / sqrt(in)`."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        weight_init: float = 1.0,
        bias_init: float | Sequence[float] = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) * (weight_init / lr_multiplier))
        init = torch.as_tensor(bias_init, dtype=torch.float32).expand(out_features)
        self.bias = nn.Parameter(init / lr_multiplier) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b: Tensor | None = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, activation=self.activation)


def _inplace_ok(x: Tensor) -> bool:
    """In-place updates are safe (and save a memory pass) when autograd will not need `x`."""
    return not (torch.is_grad_enabled() and x.requires_grad)


# On CPU, with gradients to the styles at batch 1, folding the styles into the weights costs a weight gradient
# (in * out * k^2 multiply-adds per pixel) and saves the non-fused path's activation-sized scalings (memory
# passes, about in + out per pixel); the fused path measured faster up to 128 channels (the 256 px and larger
# layers of config f; benchmarks/bench_1024.py).
FUSED_MAX_CHANNELS = 128


def use_fused(fused: bool | None, weight: Tensor, x: Tensor, w: Tensor, *, training: bool) -> bool:
    """Resolve a modulated convolution's `fused=None`: what measured faster for this layer and call.

    Training: non-fused (NVIDIA's choice). Otherwise fused, except on CPU for batches (the grouped convolution is
    slow there) and, at batch 1 with gradients to `x` or the latents `w`, for layers wider than
    `FUSED_MAX_CHANNELS`. Both paths give the same result up to float rounding.
    """
    if fused is not None:
        return fused
    if training:
        return False
    if x.device.type != "cpu":
        return True
    if x.shape[0] > 1:
        return False
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad)
    return not needs_grad or max(weight.shape[:2]) <= FUSED_MAX_CHANNELS


def conv2d_resample(
    x: Tensor,
    w: Tensor,
    f: Tensor | None = None,
    *,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
    bias: Tensor | None = None,
) -> Tensor:
    """2-D convolution (correlation, no kernel flip) fused with FIR up- or down-sampling by 2, plus `bias [O]`.

    Matches NVIDIA's `conv2d_resample` for the cases StyleGAN2 uses: up=2 runs a stride-2 transposed
    convolution followed by the FIR filter; down=2 filters first and then runs a strided convolution.
    """
    out_channels, _, kh, kw = w.shape
    if up == 1 and down == 1:
        return F.conv2d(x, w, bias, padding=padding, groups=groups)
    if f is None:
        raise ValueError("resampling needs a FIR filter")
    fw = f.shape[-1]
    if up > 1 and down > 1:
        raise ValueError("simultaneous up- and down-sampling is not supported")
    if down > 1:
        p0 = padding + (fw - down + 1) // 2
        p1 = padding + (fw - down) // 2
        if kh == 1 and kw == 1:
            x = upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))
            return F.conv2d(x, w, bias, groups=groups)
        x = upfirdn2d(x, f, padding=(p0, p1, p0, p1))
        return F.conv2d(x, w, bias, stride=down, groups=groups)
    p0 = padding + (fw + up - 1) // 2
    p1 = padding + (fw - up) // 2
    if kh == 1 and kw == 1:
        x = F.conv2d(x, w, groups=groups)
        x = upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)
    else:
        # Transposed convolution takes [in, out/groups, kh, kw].
        in_per_group = w.shape[1]
        wt = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        wt = wt.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        p0 -= kw - 1
        p1 -= kw - up
        pt = max(min(-p0, -p1), 0)
        x = F.conv_transpose2d(x, wt, stride=up, padding=pt, groups=groups)
        x = upfirdn2d(x, f, padding=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up * up)
    if bias is not None:
        x = x.add_(bias.reshape(1, -1, 1, 1))  # x is the filter's fresh output, which autograd does not keep
    return x


def modulated_conv2d(
    x: Tensor,
    weight: Tensor,
    styles: Tensor,
    *,
    noise: Tensor | None = None,
    bias: Tensor | None = None,
    gain: float = 1.0,
    up: int = 1,
    padding: int = 0,
    resample_filter: Tensor | None = None,
    demodulate: bool = True,
    fused: bool = True,
    weight_delta: Tensor | None = None,
) -> Tensor:
    """Convolve `x [N,I,H,W]` with `weight [O,I,k,k]` scaled per sample by `styles [N,I]`, then `* gain + noise + bias`.

    Demodulation divides each output channel by `sqrt(sum(W'^2) + 1e-8)` of the modulated weight (NVIDIA's
    unscaled-weight convention). The fused path folds the batch into conv groups; the non-fused path scales
    activations instead of weights. Both give the same result up to float rounding and are differentiable.
    `gain` (e.g. the lrelu gain, which commutes with lrelu) is folded into the per-channel coefficients, and
    `noise` (`[H,W]` or `[N,1,H,W]`) and `bias [O]` are expected already multiplied by it.
    `weight_delta` (`[N,O,I,k,k]` or broadcastable to it): HyperStyle's per-sample offsets, the weight becoming
    `weight * (1 + delta)` before modulation; per-sample weights always take the fused path.
    """
    batch_size = x.shape[0]
    _, in_channels, kh, kw = weight.shape
    dcoefs: Tensor | None = None
    per_sample = weight.unsqueeze(0)
    if weight_delta is not None:
        per_sample = per_sample * (1 + weight_delta.to(weight.dtype))
        fused = True
    coefs = styles.reshape(batch_size, 1, -1)  # [N, 1, I]: the modulation of each input channel
    if demodulate:
        # sum_{i,k} (W_oik s_i)^2 = sum_i s_i^2 sum_k W_oik^2: no per-sample weight is multiplied out for it.
        dcoefs = ((per_sample.square().sum(dim=[3, 4]) * coefs.square()).sum(dim=2) + 1e-8).rsqrt()  # [N, O]
        if gain != 1:
            dcoefs = dcoefs * gain
    if not fused:
        x = x * styles.to(x.dtype).reshape(batch_size, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, padding=padding)
        scale = dcoefs if dcoefs is not None else (torch.full_like(styles[:, :1], gain) if gain != 1 else None)
        if scale is not None:
            scale = scale.to(x.dtype).reshape(batch_size, -1, 1, 1)
            # With gradients the product's backward needs the unscaled output, so it stays out of place.
            x = x.mul_(scale) if _inplace_ok(x) else x * scale
        # x is a fresh output that autograd does not keep (additions need no saved values): add in place.
        for term in (noise, None if bias is None else bias.reshape(1, -1, 1, 1)):
            if term is not None:
                x = x.add_(term.to(x.dtype))
        return x
    if dcoefs is not None:
        coefs = coefs * dcoefs.unsqueeze(2)
    elif gain != 1:
        coefs = coefs * gain
    w = per_sample * coefs.unsqueeze(3).unsqueeze(4)  # one pass over the weights: [N, O, I, k, k]
    if batch_size > 1:
        # Skipped at batch 1: the no-op reshape would give NHWC tensors ambiguous strides, and oneDNN would fall
        # back to a slower NCHW convolution.
        x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    group_bias = None if bias is None else bias.to(x.dtype).repeat(batch_size)
    x = conv2d_resample(x, w.to(x.dtype), resample_filter, up=up, padding=padding, groups=batch_size, bias=group_bias)
    if batch_size > 1:
        x = x.reshape(batch_size, -1, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise.to(x.dtype))  # the convolution's fresh output
    return x


NOISE_MODES = ("const", "random", "none")


class SynthesisLayer(nn.Module):
    """A modulated 3x3 convolution with per-pixel noise, bias, lrelu and optional clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        *,
        up: int = 1,
        use_noise: bool = True,
        resample_filter: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.resample_filter: Tensor
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_const: Tensor
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(
        self,
        x: Tensor,
        w: Tensor,
        *,
        noise_mode: str = "const",
        noise: Tensor | None = None,
        fused: bool | None = True,
        gain: float = 1.0,
        weight_delta: Tensor | None = None,
    ) -> Tensor:
        """`fused`: the modulated convolution's path; None picks per layer (`use_fused`)."""
        fused = use_fused(fused, self.weight, x, w, training=self.training)
        styles = self.affine(w)
        act_gain = ACTIVATION_GAIN["lrelu"] * gain
        noise_term = None
        if self.use_noise:
            if noise is not None:
                noise_term = noise * (self.noise_strength * act_gain)
            elif noise_mode == "random":
                shape = [x.shape[0], 1, self.resolution, self.resolution]
                noise_term = torch.randn(shape, device=x.device, dtype=x.dtype) * (self.noise_strength * act_gain)
            elif noise_mode == "const":
                noise_term = self.noise_const * (self.noise_strength * act_gain)
        # lrelu(a) * g == lrelu(a * g) for g > 0, so the gain is folded into the convolution.
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise_term,
            bias=self.bias * act_gain,
            gain=act_gain,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            fused=fused,
            weight_delta=weight_delta,
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, activation="lrelu", gain=1.0, clamp=clamp, inplace=True)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to RGB, without demodulation (its gain scales the styles)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor, *, fused: bool | None = True, weight_delta: Tensor | None = None) -> Tensor:
        """`fused`: the modulated convolution's path; None picks per layer (`use_fused`)."""
        fused = use_fused(fused, self.weight, x, w, training=self.training)
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(
            x, self.weight, styles, bias=self.bias, demodulate=False, fused=fused, weight_delta=weight_delta
        )
        return bias_act(x, clamp=self.conv_clamp, inplace=True)


class Conv2dLayer(nn.Module):
    """Plain equalised-lr convolution with optional FIR resampling (discriminator, resnet skips)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.resample_filter: Tensor
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        w = self.weight * self.weight_gain
        x = conv2d_resample(x, w.to(x.dtype), self.resample_filter, up=self.up, down=self.down, padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        act_gain = ACTIVATION_GAIN[self.activation] * gain
        return bias_act(x, self.bias, activation=self.activation, gain=act_gain, clamp=clamp)
