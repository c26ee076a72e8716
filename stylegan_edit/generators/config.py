"""Typed configs for the StyleGAN2 generator and discriminator (arXiv:1912.04958).

Field names follow NVIDIA's stylegan2-ada-pytorch so that a network pickle's kwargs map one to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from stylegan_edit.files import JsonConfig

Architecture = Literal["orig", "skip", "resnet"]


def _check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution > 1024 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two from 4 to 1024, got {resolution}")


@dataclass(frozen=True)
class GeneratorConfig(JsonConfig):
    """Architecture of a StyleGAN2 generator (config-e/f semantics)."""

    img_resolution: int = 1024
    img_channels: int = 3
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.995
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    architecture: Architecture = "skip"
    resample_filter: tuple[int, ...] = field(default=(1, 3, 3, 1))
    use_noise: bool = True

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        if self.architecture not in ("skip", "resnet"):
            raise ValueError(f"generator architecture must be 'skip' or 'resnet', got {self.architecture!r}")
        if min(self.z_dim, self.w_dim, self.mapping_layers, self.img_channels) < 1:
            raise ValueError("z_dim, w_dim, mapping_layers and img_channels must be positive")

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    def channels(self, resolution: int) -> int:
        return min(self.channel_base // resolution, self.channel_max)

    @property
    def num_ws(self) -> int:
        """Number of per-layer W codes: one per conv plus the last torgb (18 at 1024 px)."""
        return 2 * int(math.log2(self.img_resolution)) - 2


@dataclass(frozen=True)
class DiscriminatorConfig(JsonConfig):
    """Architecture of the matching StyleGAN2 discriminator."""

    img_resolution: int = 1024
    img_channels: int = 3
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    architecture: Architecture = "resnet"
    mbstd_group_size: int = 4
    mbstd_num_channels: int = 1
    resample_filter: tuple[int, ...] = field(default=(1, 3, 3, 1))

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        if self.img_resolution < 8:
            raise ValueError("the discriminator needs a resolution of at least 8")
        if self.architecture not in ("skip", "resnet"):
            raise ValueError(f"discriminator architecture must be 'skip' or 'resnet', got {self.architecture!r}")

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(int(math.log2(self.img_resolution)), 2, -1)]

    def channels(self, resolution: int) -> int:
        return min(self.channel_base // resolution, self.channel_max)
