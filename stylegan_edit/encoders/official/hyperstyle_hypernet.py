"""The hypernetworks of official HyperStyle checkpoints (yuval-alaluf/hyperstyle, `hypernet.*` tensors), under the
project's module names so that they load strictly: `SharedWeightsHyperNetResNet` and its `...Separable` ablation.

A ResNet34 body (torchvision's, without its max-pool) on the 6-channel 256 px input gives 512 x 16 x 16 features;
each tuned layer's refinement block maps them to that layer's weight offsets `[N, out, in, k, k]`. The layers of
shape 512 x 512 x 3 x 3 (indices 0, 2, 3, 5, 6, 8, 9, 11, 12) share one `SharedWeightsHypernet`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from stylegan_edit.encoders.official.irse import EqualLinear
from stylegan_edit.formats.rosinality_keys import rosinality_channels

OUTPUTS = {1024: 26, 512: 23, 256: 20}
"""`n_hypernet_outputs` per `output_size`: one per modulated convolution of the decoder."""
SHARED_LAYERS = (0, 2, 3, 5, 6, 8, 9, 11, 12)
FEATURES = 512  # the ResNet34 body's output channels, and every block's `out_c`
SPATIAL = 16  # the body's output side for a 256 px input


def official_layer_shapes(output_size: int) -> list[tuple[int, int, int]]:
    """`(kernel, in, out)` of each decoder convolution in execution order (the official `PARAMETERS`: rosinality's
    channel schedule with multiplier 2; toRGB layers are 1x1 to 3 channels)."""
    shapes = [(3, 512, 512), (1, 512, 3)]
    channels = 512
    for log_size in range(3, int(math.log2(output_size)) + 1):
        out = rosinality_channels(2**log_size, 2)
        shapes += [(3, channels, out), (3, out, out), (1, out, 3)]
        channels = out
    return shapes


def torgb_layers(output_size: int) -> list[int]:
    return [i for i, (kernel, _, out) in enumerate(official_layer_shapes(output_size)) if kernel == 1 and out == 3]


def _convs(channels: list[int], strides: list[int]) -> nn.Sequential:
    """`Conv2d(3x3, padding 1) + LeakyReLU(0.01)` per step (indices 0, 2, 4, ... hold the weights)."""
    layers: list[nn.Module] = []
    for cin, cout, stride in zip(channels[:-1], channels[1:], strides, strict=True):
        layers += [nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1), nn.LeakyReLU()]
    return nn.Sequential(*layers)


class SharedWeightsHypernet(nn.Module):
    """A code `[N, 512]` -> a 3x3 kernel `[N, 512, 512, 3, 3]`: `h = (z @ w2 + b2)` viewed `[N, in, z]`, then
    `h @ w1 + b1` viewed `[N, out, in, 3, 3]` (the official view, which reads the `[N, in, out*9]` product's
    memory as `[out, in]`)."""

    def __init__(self, f_size: int = 3, z_dim: int = 512, out_size: int = 512, in_size: int = 512) -> None:
        super().__init__()
        self.f_size, self.z_dim, self.out_size, self.in_size = f_size, z_dim, out_size, in_size
        # Loaded from the checkpoint; zeros cost no random draws for 134M values.
        self.w1 = nn.Parameter(torch.zeros(z_dim, out_size * f_size * f_size))
        self.b1 = nn.Parameter(torch.zeros(out_size * f_size * f_size))
        self.w2 = nn.Parameter(torch.zeros(z_dim, in_size * z_dim))
        self.b2 = nn.Parameter(torch.zeros(in_size * z_dim))

    def forward(self, z: Tensor) -> Tensor:
        batch = z.shape[0]
        h_in = (torch.matmul(z, self.w2) + self.b2).view(batch, self.in_size, self.z_dim)
        h_final = torch.matmul(h_in, self.w1) + self.b1
        return h_final.view(batch, self.out_size, self.in_size, self.f_size, self.f_size)


class HyperRefinementBlock(nn.Module):
    """Features -> a code (a stride-1 conv, then stride-2 convs down to 1x1, width 128, then 512) -> EqualLinear ->
    the shared hypernet's kernel."""

    def __init__(self, hypernet: SharedWeightsHypernet, n_channels: int = FEATURES, inner_c: int = 128) -> None:
        super().__init__()
        num_pools = int(math.log2(SPATIAL))
        self.convs = _convs([n_channels] + [inner_c] * num_pools + [FEATURES], [1] + [2] * num_pools)
        self.linear = EqualLinear(FEATURES, FEATURES, lr_mul=1)
        self.hypernet = hypernet

    def forward(self, features: Tensor) -> Tensor:
        return self.hypernet(self.linear(self.convs(features).view(-1, FEATURES)))


class RefinementBlock(nn.Module):
    """Per-layer offsets: stride-2 convs (to 2x2 for 3x3 layers, then an average pool; to 1x1 for toRGB), a 1x1
    conv to `in * out` values; 3x3 layers get them per channel, repeated over the kernel."""

    def __init__(self, shape: tuple[int, int, int], torgb: bool, n_channels: int = FEATURES, inner_c: int = 256):
        super().__init__()
        self.kernel_size, self.in_channels, self.out_channels = shape
        self.torgb = torgb
        num_pools = int(math.log2(SPATIAL)) - 1 - (1 if self.kernel_size == 3 else 0)
        self.convs = _convs([n_channels] + [inner_c] * num_pools + [FEATURES], [2] * (num_pools + 1))
        conv = nn.Conv2d(FEATURES, self.in_channels * self.out_channels, kernel_size=1)
        self.output = nn.Sequential(conv) if torgb else nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), conv)

    def forward(self, x: Tensor) -> Tensor:
        x = self.output(self.convs(x))
        k = self.kernel_size
        if self.torgb:
            return x.view(-1, self.out_channels, self.in_channels, k, k)
        x = x.view(-1, self.out_channels, self.in_channels)
        return x.unsqueeze(3).repeat(1, 1, 1, k).unsqueeze(4).repeat(1, 1, 1, 1, k)


class SeparableBlock(nn.Module):
    """A kernel from two factors: `make_kernel_out(f) x make_kernel_in(f)` per kernel position, then linear maps
    over the input and the output channels; `[N, 512]` features -> `[N, out, in, k, k]`."""

    def __init__(self, input_size: int, kernel_channels_in: int, kernel_channels_out: int, kernel_size: int) -> None:
        super().__init__()
        self.input_size, self.kernel_size = input_size, kernel_size
        self.kernel_channels_in, self.kernel_channels_out = kernel_channels_in, kernel_channels_out
        self.make_kernel_in = nn.Linear(input_size, kernel_size * kernel_size * kernel_channels_in)
        self.make_kernel_out = nn.Linear(input_size, kernel_size * kernel_size * kernel_channels_out)
        self.kernel_linear_in = nn.Linear(kernel_channels_in, kernel_channels_in)
        self.kernel_linear_out = nn.Linear(kernel_channels_out, kernel_channels_out)

    def forward(self, features: Tensor) -> Tensor:
        k = self.kernel_size
        features = features.view(-1, self.input_size)
        kernel_in = self.make_kernel_in(features).view(-1, k, k, 1, self.kernel_channels_in)
        kernel_out = self.make_kernel_out(features).view(-1, k, k, self.kernel_channels_out, 1)
        kernel = self.kernel_linear_in(torch.matmul(kernel_out, kernel_in)).permute(0, 1, 2, 4, 3)
        return self.kernel_linear_out(kernel).permute(0, 4, 3, 1, 2)


class RefinementBlockSeparable(nn.Module):
    """The separable ablation's per-layer block: stride-2 convs to 1x1, then a `SeparableBlock` (toRGB: a 1x1
    conv to `in * out` values)."""

    def __init__(self, shape: tuple[int, int, int], torgb: bool, n_channels: int = FEATURES, inner_c: int = 256):
        super().__init__()
        self.kernel_size, self.in_channels, self.out_channels = shape
        self.torgb = torgb
        num_pools = int(math.log2(SPATIAL)) - 1
        self.convs = _convs([n_channels] + [inner_c] * num_pools + [FEATURES], [2] * (num_pools + 1))
        self.output: nn.Module
        if torgb:
            self.output = nn.Sequential(nn.Conv2d(FEATURES, self.in_channels * self.out_channels, kernel_size=1))
        else:
            self.output = nn.Sequential(SeparableBlock(FEATURES, self.in_channels, self.out_channels, self.kernel_size))

    def forward(self, x: Tensor) -> Tensor:
        x = self.output(self.convs(x))
        k = self.kernel_size
        return x.view(-1, self.out_channels, self.in_channels, k, k) if self.torgb else x


class SharedWeightsHyperNetResNet(nn.Module):
    """`conv1` (7x7 stride 2 on `input_nc` channels), `bn1`, PReLU `relu`, the 16 BasicBlocks of torchvision's
    ResNet34 as `body`, `shared_weight_hypernet`, and `refinement_blocks` (None for layers not tuned):
    `[N, input_nc, 256, 256]` -> one offset tensor (or None) per decoder convolution."""

    separable = False

    def __init__(self, *, output_size: int, layers_to_tune: list[int], input_nc: int = 6) -> None:
        super().__init__()
        from torchvision.models import resnet34

        self.conv1 = nn.Conv2d(input_nc, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.PReLU(64)
        resnet = resnet34(weights=None)
        self.body = nn.Sequential(
            *(block for layer in (resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4) for block in layer)
        )
        self.layers_to_tune = list(layers_to_tune)
        self.shared_weight_hypernet = SharedWeightsHypernet(in_size=512, out_size=512)
        shapes, torgb = official_layer_shapes(output_size), torgb_layers(output_size)
        self.n_outputs = OUTPUTS[output_size]
        kind = RefinementBlockSeparable if self.separable else RefinementBlock
        self.refinement_blocks = nn.ModuleList()
        for i in range(self.n_outputs):
            block: nn.Module | None = None
            if i in self.layers_to_tune:
                if i in SHARED_LAYERS:
                    block = HyperRefinementBlock(self.shared_weight_hypernet)
                else:
                    block = kind(shapes[i], i in torgb)
            self.refinement_blocks.append(block)  # type: ignore[arg-type]  # None keeps the official indices

    def forward(self, x: Tensor) -> list[Tensor | None]:
        x = self.body(self.relu(self.bn1(self.conv1(x))))
        return [block(x) if block is not None else None for block in self.refinement_blocks]


class SharedWeightsHyperNetResNetSeparable(SharedWeightsHyperNetResNet):
    """The ablation with `RefinementBlockSeparable` for the layers that do not share the hypernet."""

    separable = True


HYPERNET_TYPES = {
    "SharedWeightsHyperNetResNet": SharedWeightsHyperNetResNet,
    "SharedWeightsHyperNetResNetSeparable": SharedWeightsHyperNetResNetSeparable,
}
