"""Typed config of the StyleGAN3 (alias-free) generator, configs T and R (arXiv:2106.12423, §3–4, appendix F),
and the per-layer schedule of cutoffs, stopbands, sampling rates, sizes and widths it implies.

Field names follow NVIDIA's `networks_stylegan3` keyword arguments so that a snapshot's `init_kwargs` map one to
one; the schedule is the paper's geometric progression, computed in float64 as NVIDIA's numpy code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from stylegan_edit.files import JsonConfig

Sg3Kind = Literal["stylegan3-t", "stylegan3-r"]


@dataclass(frozen=True)
class StyleGAN3Config(JsonConfig):
    """Architecture of a StyleGAN3 generator. Defaults are config T at 1024 px; `StyleGAN3Config.preset` gives R.

    num_layers: synthesis layers excluding the Fourier input and the final ToRGB (14 in the paper); the last
    `num_critical` are critically sampled. conv_kernel 3 (T) or 1 (R); use_radial_filters: jinc-based radially
    symmetric downsampling filters (R). magnitude_ema_beta only matters while training.
    """

    img_resolution: int = 1024
    img_channels: int = 3
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.998
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    num_fp16_res: int = 4
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    use_radial_filters: bool = False
    conv_clamp: float | None = 256.0
    magnitude_ema_beta: float = 0.999

    def __post_init__(self) -> None:
        res = self.img_resolution
        if res < 8 or res > 2048 or res & (res - 1):
            raise ValueError(f"StyleGAN3 resolution must be a power of two from 8 to 2048, got {res}")
        if min(self.z_dim, self.w_dim, self.mapping_layers, self.img_channels, self.num_layers) < 1:
            raise ValueError("z_dim, w_dim, mapping_layers, img_channels and num_layers must be positive")
        if not 0 <= self.num_critical < self.num_layers:
            raise ValueError(f"num_critical must be in [0, num_layers), got {self.num_critical}")
        if not 0 <= self.num_fp16_res <= 32 or not 0 <= self.margin_size <= 4 * res:
            raise ValueError("num_fp16_res must be in [0, 32] and margin_size in [0, 4 x resolution]")
        if self.conv_kernel not in (1, 3):
            raise ValueError(f"conv_kernel must be 1 (config R) or 3 (config T), got {self.conv_kernel}")

    @classmethod
    def preset(cls, kind: Sg3Kind, img_resolution: int, **changes: object) -> StyleGAN3Config:
        """NVIDIA's `train.py --cfg stylegan3-t|r` generator at `img_resolution` (R doubles the channel widths)."""
        if kind == "stylegan3-t":
            base: dict[str, object] = {}
        elif kind == "stylegan3-r":
            base = {"conv_kernel": 1, "channel_base": 65536, "channel_max": 1024, "use_radial_filters": True}
        else:
            raise ValueError(f"unknown StyleGAN3 config {kind!r} (stylegan3-t, stylegan3-r)")
        return cls(img_resolution=img_resolution, **{**base, **changes})  # type: ignore[arg-type]

    @property
    def kind(self) -> Sg3Kind:
        return "stylegan3-r" if self.use_radial_filters else "stylegan3-t"

    @property
    def num_ws(self) -> int:
        """One W per synthesis layer plus the input layer's and the ToRGB's (16 for 14 layers)."""
        return self.num_layers + 2

    def layers(self) -> list[LayerSpec]:
        """The specs of the `num_layers + 1` synthesis layers (the last is the ToRGB)."""
        return layer_specs(self)


@dataclass(frozen=True)
class LayerSpec:
    """One alias-free synthesis layer: its input/output signal description and the filters it designs.

    Sampling rates are in samples per unit length of the image (the output image spans one unit), cutoffs and
    half-widths in the same frequency units; sizes include the margin (`sampling rate + 2 * margin`).
    """

    index: int
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float

    @property
    def name(self) -> str:
        """NVIDIA's module name, `L{index}_{out_size}_{out_channels}` (e.g. `L0_36_512`)."""
        return f"L{self.index}_{self.out_size}_{self.out_channels}"


def layer_specs(config: StyleGAN3Config) -> list[LayerSpec]:
    """The paper's schedule: cutoffs and stopbands grow geometrically from the first layer to the last
    non-critical one, then stay at the image's Nyquist rate; sampling rates are the smallest powers of two that
    hold the stopband (§3.2, appendix F.1)."""
    res = config.img_resolution
    n = config.num_layers
    last_cutoff = res / 2
    last_stopband = last_cutoff * config.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - config.num_critical), 1)
    cutoffs = config.first_cutoff * (last_cutoff / config.first_cutoff) ** exponents
    stopbands = config.first_stopband * (last_stopband / config.first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + config.margin_size * 2
    sizes[-2:] = res
    channels = np.rint(np.minimum((config.channel_base / 2) / cutoffs, config.channel_max))
    channels[-1] = config.img_channels
    specs = []
    for idx in range(n + 1):
        prev = max(idx - 1, 0)
        specs.append(
            LayerSpec(
                index=idx,
                is_torgb=idx == n,
                is_critically_sampled=idx >= n - config.num_critical,
                use_fp16=bool(rates[idx] * 2**config.num_fp16_res > res),
                in_channels=int(channels[prev]),
                out_channels=int(channels[idx]),
                in_size=int(sizes[prev]),
                out_size=int(sizes[idx]),
                in_sampling_rate=int(rates[prev]),
                out_sampling_rate=int(rates[idx]),
                in_cutoff=float(cutoffs[prev]),
                out_cutoff=float(cutoffs[idx]),
                in_half_width=float(half_widths[prev]),
                out_half_width=float(half_widths[idx]),
            )
        )
    return specs


def input_spec(config: StyleGAN3Config) -> tuple[int, int, float, float]:
    """The Fourier input's `(channels, size, sampling_rate, bandwidth)`: those of layer 0's input."""
    first = layer_specs(config)[0]
    return first.in_channels, first.in_size, float(first.in_sampling_rate), first.in_cutoff
