"""The official pSp / e4e / ReStyle encoders' building blocks, named as their modules are so that an official
checkpoint's `encoder.*` tensors load strictly: the IR-SE-50 backbone and the map2style head.

Public: `Bottleneck`, `get_blocks`, `SEModule`, `BottleneckIR`, `BottleneckIRSE`, `InputLayer`, `IRSEBody`
(`.pyramid(x) -> (c1, c2, c3)`), `EqualLinear`, `GradualStyleBlock`, `upsample_add`, `PYRAMID_TAPS`.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Mode = Literal["ir", "ir_se"]

PYRAMID_TAPS = (6, 20, 23)
"""Indices of the body units whose outputs are the pyramid's fine (c1, 128 ch, R/4), middle (c2, 256 ch, R/8)
and coarse (c3, 512 ch, R/16) features, as the official forward passes pick them."""

_UNITS = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}


class Bottleneck(NamedTuple):
    """One residual unit of the backbone: input channels, output channels, stride of its second conv."""

    in_channel: int
    depth: int
    stride: int


def get_blocks(num_layers: int = 50) -> list[list[Bottleneck]]:
    """The four stages of an IR-50/100/152: 64, 128, 256, 512 channels, each starting with a stride-2 unit."""
    if num_layers not in _UNITS:
        raise ValueError(f"num_layers must be one of 50, 100, 152, got {num_layers}")
    widths = ((64, 64), (64, 128), (128, 256), (256, 512))
    return [
        [Bottleneck(cin, depth, 2)] + [Bottleneck(depth, depth, 1) for _ in range(units - 1)]
        for (cin, depth), units in zip(widths, _UNITS[num_layers], strict=True)
    ]


class SEModule(nn.Module):
    """Squeeze-and-excitation: `x * sigmoid(fc2(relu(fc1(mean over H, W of x))))`, bias-free 1x1 convs."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, padding=0, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, padding=0, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BottleneckIR(nn.Module):
    """`res_layer(x) + shortcut_layer(x)`; res: BN, conv3x3, PReLU, conv3x3 (stride), BN [, SE]; shortcut: a
    1x1 max-pool of the stride when the width is kept, else conv1x1 (stride) + BN."""

    def __init__(self, in_channel: int, depth: int, stride: int, *, se: bool = False) -> None:
        super().__init__()
        self.shortcut_layer: nn.Module
        if in_channel == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channel, depth, (1, 1), stride, bias=False), nn.BatchNorm2d(depth)
            )
        layers: list[nn.Module] = [
            nn.BatchNorm2d(in_channel),
            nn.Conv2d(in_channel, depth, (3, 3), (1, 1), 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, (3, 3), stride, 1, bias=False),
            nn.BatchNorm2d(depth),
        ]
        if se:
            layers.append(SEModule(depth, 16))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.shortcut_layer(x)
        return self.res_layer(x) + shortcut


class BottleneckIRSE(BottleneckIR):
    """`BottleneckIR` with the squeeze-and-excitation module (reduction 16) at the end of its residual branch."""

    def __init__(self, in_channel: int, depth: int, stride: int) -> None:
        super().__init__(in_channel, depth, stride, se=True)


class InputLayer(nn.Sequential):
    """The stem: conv3x3 (`input_nc` -> 64, no bias), BatchNorm, PReLU; keys `0.weight`, `1.*`, `2.weight`."""

    def __init__(self, input_nc: int = 3) -> None:
        super().__init__(nn.Conv2d(input_nc, 64, (3, 3), 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))


class IRSEBody(nn.Sequential):
    """The residual units of all stages in one `Sequential` (keys `<unit>.res_layer.*`, `<unit>.shortcut_layer.*`);
    an input `[N, 64, R, R]` ends as `[N, 512, R/16, R/16]`."""

    def __init__(self, num_layers: int = 50, mode: Mode = "ir_se") -> None:
        if mode not in ("ir", "ir_se"):
            raise ValueError(f"mode must be 'ir' or 'ir_se', got {mode!r}")
        units = [
            BottleneckIR(b.in_channel, b.depth, b.stride, se=mode == "ir_se")
            for stage in get_blocks(num_layers)
            for b in stage
        ]
        super().__init__(*units)

    def pyramid(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Stem output `[N, 64, R, R]` -> (c1 `[N, 128, R/4, R/4]`, c2 `[N, 256, R/8, R/8]`, c3 `[N, 512, R/16,
        R/16]`), the outputs of the units `PYRAMID_TAPS`."""
        taps = []
        for i, unit in enumerate(self):
            x = unit(x)
            if i in PYRAMID_TAPS:
                taps.append(x)
        c1, c2, c3 = taps
        return c1, c2, c3


class EqualLinear(nn.Module):
    """rosinality's equalized linear layer without activation: `x @ (weight / sqrt(in_dim) * lr_mul).T + bias *
    lr_mul` (keys `weight [out, in]`, `bias [out]`)."""

    def __init__(self, in_dim: int, out_dim: int, *, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)


class GradualStyleBlock(nn.Module):
    """map2style: log2(`spatial`) stride-2 conv3x3 + LeakyReLU(0.01) (`convs.0`, `convs.2`, ...), then an
    `EqualLinear` (`linear`): features `[N, in_c, spatial, spatial]` -> one code `[N, out_c]`."""

    def __init__(self, in_c: int, out_c: int, spatial: int) -> None:
        super().__init__()
        self.out_c = out_c
        self.spatial = spatial
        layers: list[nn.Module] = []
        for i in range(int(math.log2(spatial))):
            layers += [nn.Conv2d(in_c if i == 0 else out_c, out_c, kernel_size=3, stride=2, padding=1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_c, out_c, lr_mul=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.convs(x).view(-1, self.out_c))


def upsample_add(x: Tensor, y: Tensor) -> Tensor:
    """The FPN merge: `x` resized to `y`'s height and width (bilinear, align_corners=True), plus `y`."""
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y
