"""The StyleGAN3 (alias-free) synthesis network and generator, configs T and R (arXiv:2106.12423).

Module and parameter names equal NVIDIA's `networks_stylegan3` (`synthesis.input`, `synthesis.L0_36_512`, ...)
so that a snapshot's state dict loads with `strict=True`; the numerics follow it in float32 (NVIDIA computes the
same layers in float32 on CPU too).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.generators.alias_free_config import LayerSpec, StyleGAN3Config, input_spec
from stylegan_edit.generators.filtered_lrelu import design_lowpass_filter, filtered_lrelu
from stylegan_edit.generators.layers import FullyConnectedLayer
from stylegan_edit.generators.mapping import MappedGenerator, check_synthesis_input


def make_transform(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> Tensor:
    """The `[3, 3]` matrix the input layer's `transform` buffer holds to translate the output image by
    `translate` (in units of the image width) and rotate it by `rotate` degrees: the inverse of NVIDIA's
    `gen_images.make_transform`, computed in float64 as there."""
    angle = rotate / 360.0 * math.pi * 2
    s, c = math.sin(angle), math.cos(angle)
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]])
    return torch.from_numpy(np.linalg.inv(m)).to(torch.float32)


class SynthesisInput(nn.Module):
    """Fourier features: `channels` sinusoids of random frequencies inside the first layer's band, rotated and
    translated per sample by an affine map of w (and by the user `transform`), then mixed by a learned matrix."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.size = size
        self.sampling_rate = sampling_rate
        self.bandwidth = bandwidth
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        phases = torch.rand([channels]) - 0.5
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0.0, bias_init=[1.0, 0.0, 0.0, 0.0])
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)
        self.transform: Tensor
        self.freqs: Tensor
        self.phases: Tensor

    def forward(self, w: Tensor) -> Tensor:
        """`w [N, w_dim]` -> features `[N, channels, size, size]`."""
        n = w.shape[0]
        t = self.affine(w)  # (cos, sin, tx, ty) of the learned inverse rotation and translation
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rotation = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])
        rotation[:, 0, 0] = t[:, 0]
        rotation[:, 0, 1] = -t[:, 1]
        rotation[:, 1, 0] = t[:, 1]
        rotation[:, 1, 1] = t[:, 0]
        translation = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])
        translation[:, 0, 2] = -t[:, 2]
        translation[:, 1, 2] = -t[:, 3]
        transforms = rotation @ translation @ self.transform.unsqueeze(0)
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # A user transform can push frequencies out of band; fade those out instead of aliasing.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * self.size / self.sampling_rate
        theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grid = F.affine_grid(theta.unsqueeze(0), [1, 1, self.size, self.size], align_corners=False)
        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = torch.sin((x + phases.unsqueeze(1).unsqueeze(2)) * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


def modulated_conv2d(
    x: Tensor, weight: Tensor, styles: Tensor, *, padding: int, demodulate: bool, input_gain: Tensor | None
) -> Tensor:
    """StyleGAN3's modulated convolution: `weight [O,I,k,k]` scaled per sample by `styles [N,I]`, with weight and
    styles pre-normalised and an optional input gain (the magnitude EMA's `rsqrt`), as one grouped convolution."""
    batch_size = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, in_channels, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(batch_size, out_channels, 1, 1, 1)
    if input_gain is not None:
        w = w * input_gain.expand(batch_size, in_channels).reshape(batch_size, 1, in_channels, 1, 1)
    w = w.reshape(batch_size * out_channels, in_channels, kh, kw).to(x.dtype)
    if batch_size == 1:
        return F.conv2d(x, w, padding=padding)
    x = F.conv2d(x.reshape(1, -1, *x.shape[2:]), w, padding=padding, groups=batch_size)
    return x.reshape(batch_size, -1, *x.shape[2:])


class AliasFreeLayer(nn.Module):
    """One synthesis layer: modulated convolution, then the filtered leaky ReLU between its input and output
    sampling rates (the ToRGB layer: a 1x1 modulated convolution without demodulation, bias and clamp)."""

    def __init__(self, config: StyleGAN3Config, spec: LayerSpec) -> None:
        super().__init__()
        self.spec = spec
        self.w_dim = config.w_dim
        self.is_torgb = spec.is_torgb
        self.in_channels, self.out_channels = spec.in_channels, spec.out_channels
        self.in_size, self.out_size = spec.in_size, spec.out_size
        self.in_sampling_rate, self.out_sampling_rate = spec.in_sampling_rate, spec.out_sampling_rate
        self.conv_kernel = 1 if spec.is_torgb else config.conv_kernel
        self.conv_clamp = config.conv_clamp
        self.magnitude_ema_beta = config.magnitude_ema_beta
        self.tmp_sampling_rate = max(spec.in_sampling_rate, spec.out_sampling_rate) * (
            1 if spec.is_torgb else config.lrelu_upsampling
        )
        self.affine = FullyConnectedLayer(config.w_dim, spec.in_channels, bias_init=1)
        self.weight = nn.Parameter(
            torch.randn([spec.out_channels, spec.in_channels, self.conv_kernel, self.conv_kernel])
        )
        self.bias = nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.magnitude_ema: Tensor

        self.up_factor = int(np.rint(self.tmp_sampling_rate / spec.in_sampling_rate))
        self.down_factor = int(np.rint(self.tmp_sampling_rate / spec.out_sampling_rate))
        if spec.in_sampling_rate * self.up_factor != self.tmp_sampling_rate or (
            spec.out_sampling_rate * self.down_factor != self.tmp_sampling_rate
        ):
            raise ValueError(f"layer {spec.name}: sampling rates are not integer ratios")
        self.up_taps = config.filter_size * self.up_factor if self.up_factor > 1 and not spec.is_torgb else 1
        self.down_taps = config.filter_size * self.down_factor if self.down_factor > 1 and not spec.is_torgb else 1
        self.down_radial = config.use_radial_filters and not spec.is_critically_sampled
        up = design_lowpass_filter(self.up_taps, spec.in_cutoff, spec.in_half_width * 2, self.tmp_sampling_rate)
        down = design_lowpass_filter(
            self.down_taps, spec.out_cutoff, spec.out_half_width * 2, self.tmp_sampling_rate, radial=self.down_radial
        )
        self.register_buffer("up_filter", up)
        self.register_buffer("down_filter", down)
        self.up_filter: Tensor | None
        self.down_filter: Tensor | None

        # Pad so that the output samples sit where the symmetric interpretation puts them (appendix C.3).
        pad_total = (spec.out_size - 1) * self.down_factor + 1
        pad_total -= (spec.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        self.padding = [pad_lo, pad_total - pad_lo, pad_lo, pad_total - pad_lo]

    def forward(self, x: Tensor, w: Tensor, *, update_emas: bool = False) -> Tensor:
        """`x [N, in_channels, in_size, in_size]`, `w [N, w_dim]` -> `[N, out_channels, out_size, out_size]`."""
        if update_emas:
            with torch.no_grad():
                current = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(current.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * self.conv_kernel**2))
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            padding=self.conv_kernel - 1,
            demodulate=not self.is_torgb,
            input_gain=self.magnitude_ema.rsqrt(),
        )
        return filtered_lrelu(
            x,
            self.up_filter,
            self.down_filter,
            self.bias,
            up=self.up_factor,
            down=self.down_factor,
            padding=self.padding,
            gain=1.0 if self.is_torgb else math.sqrt(2),
            slope=1.0 if self.is_torgb else 0.2,
            clamp=self.conv_clamp,
        )


class AliasFreeSynthesis(nn.Module):
    """`ws [N, num_ws, w_dim]` -> image `[N, C, H, W]`: the Fourier input (ws[:, 0]) and `num_layers + 1` layers."""

    def __init__(self, config: StyleGAN3Config) -> None:
        super().__init__()
        self.config = config
        self.num_ws = config.num_ws
        self.output_scale = config.output_scale
        channels, size, rate, bandwidth = input_spec(config)
        self.input = SynthesisInput(config.w_dim, channels, size, rate, bandwidth)
        self.layer_names: list[str] = []
        for spec in config.layers():
            setattr(self, spec.name, AliasFreeLayer(config, spec))
            self.layer_names.append(spec.name)

    @property
    def layers(self) -> list[AliasFreeLayer]:
        """The synthesis layers in order; layer i is driven by `ws[:, i + 1]`."""
        return [getattr(self, name) for name in self.layer_names]

    def noise_layers(self) -> list[nn.Module]:
        """StyleGAN3 has no noise inputs."""
        return []

    def forward(
        self,
        ws: Tensor,
        *,
        noise_mode: str = "const",
        noise: Sequence[Tensor] | None = None,
        fused_modconv: bool | None = None,
        update_emas: bool = False,
    ) -> Tensor:
        """Render `ws [N, num_ws, w_dim]`. `noise_mode` is accepted for a common interface and has no effect;
        `noise` must be empty (no noise inputs); `fused_modconv` has no effect (always one grouped convolution)."""
        check_synthesis_input(ws, self.num_ws, self.config.w_dim, noise_mode)
        if noise:
            raise ValueError(f"StyleGAN3 has no noise inputs, got {len(noise)} noise maps")
        codes = ws.to(torch.float32).unbind(dim=1)
        # oneDNN's convolutions, depthwise filters included, run about twice as fast on NHWC activations.
        x = self.input(codes[0]).contiguous(memory_format=torch.channels_last)
        for layer, w in zip(self.layers, codes[1:], strict=True):
            x = layer(x, w, update_emas=update_emas)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)


class StyleGAN3Generator(MappedGenerator):
    """`G(z) = G.synthesis(G.mapping(z))` for StyleGAN3; state dict keys equal NVIDIA's `G_ema` keys."""

    config: StyleGAN3Config
    synthesis: AliasFreeSynthesis

    def __init__(self, config: StyleGAN3Config) -> None:
        super().__init__()
        self.config = config
        self.synthesis = AliasFreeSynthesis(config)
        self._add_mapping()

    @property
    def transform(self) -> Tensor:
        """The input layer's user transform `[3, 3]` (see `make_transform`); identity by default."""
        return self.synthesis.input.transform

    def set_transform(self, translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> None:
        """Translate (in image widths) and rotate (degrees) every image this generator renders from now on."""
        self.synthesis.input.transform.copy_(make_transform(translate, rotate))

    @contextmanager
    def transformed(self, translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> Iterator[None]:
        """`set_transform(translate, rotate)` for the images rendered inside the block; the transform held before
        is restored on exit, also after an error."""
        saved = self.transform.clone()
        self.set_transform(translate, rotate)
        try:
            yield
        finally:
            self.transform.copy_(saved)
