"""The StyleGAN2 discriminator: resnet (or skip) blocks, minibatch stddev, conv + fc epilogue.

Parameter names follow NVIDIA's stylegan2-ada-pytorch `Discriminator` with `c_dim=0` (arXiv:1912.04958).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from stylegan_edit.generators.config import DiscriminatorConfig
from stylegan_edit.generators.layers import Conv2dLayer, FullyConnectedLayer
from stylegan_edit.generators.ops import downsample2d, setup_filter


class DiscriminatorBlock(nn.Module):
    """Two convolutions at one resolution, the second halving it; `fromrgb` on the first block (or every block)."""

    def __init__(self, config: DiscriminatorConfig, resolution: int) -> None:
        super().__init__()
        self.in_channels = config.channels(resolution) if resolution < config.img_resolution else 0
        tmp_channels = config.channels(resolution)
        out_channels = config.channels(resolution // 2)
        self.architecture = config.architecture
        f = config.resample_filter
        self.register_buffer("resample_filter", setup_filter(f))
        self.resample_filter: Tensor
        if self.in_channels == 0 or config.architecture == "skip":
            self.fromrgb = Conv2dLayer(
                config.img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=config.conv_clamp
            )
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=config.conv_clamp)
        self.conv1 = Conv2dLayer(
            tmp_channels, out_channels, 3, activation="lrelu", down=2, resample_filter=f, conv_clamp=config.conv_clamp
        )
        if config.architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2, resample_filter=f)

    def forward(self, x: Tensor | None, img: Tensor | None) -> tuple[Tensor, Tensor | None]:
        if self.in_channels == 0 or self.architecture == "skip":
            assert img is not None
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        assert x is not None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
            return y + x, img
        return self.conv1(self.conv0(x)), img


def minibatch_stddev(x: Tensor, group_size: int, num_channels: int = 1) -> Tensor:
    """Append the per-group standard deviation of features as `num_channels` extra channels."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"batch size {n} must be divisible by the minibatch-stddev group size {g}")
    f = num_channels
    y = x.reshape(g, -1, f, c // f, h, w)
    y = y - y.mean(dim=0)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()
    y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch stddev, 3x3 conv, fully connected, and the logit."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        channels = config.channels(4)
        self.architecture = config.architecture
        self.mbstd_group_size = config.mbstd_group_size
        self.mbstd_num_channels = config.mbstd_num_channels
        if config.architecture == "skip":
            self.fromrgb = Conv2dLayer(config.img_channels, channels, 1, activation="lrelu")
        self.conv = Conv2dLayer(
            channels + config.mbstd_num_channels, channels, 3, activation="lrelu", conv_clamp=config.conv_clamp
        )
        self.fc = FullyConnectedLayer(channels * 16, channels, activation="lrelu")
        self.out = FullyConnectedLayer(channels, 1)

    def forward(self, x: Tensor, img: Tensor | None) -> Tensor:
        if self.architecture == "skip":
            assert img is not None
            x = x + self.fromrgb(img)
        if self.mbstd_num_channels > 0:
            x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_channels)
        x = self.conv(x)
        return self.out(self.fc(x.flatten(1)))


class Discriminator(nn.Module):
    """`D(img [N, C, H, W]) -> logits [N, 1]` (real > 0)."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        # oneDNN convolutions run faster on NHWC activations (benchmarks/bench_train.py).
        self.channels_last = True
        for res in config.block_resolutions:
            setattr(self, f"b{res}", DiscriminatorBlock(config, res))
        self.b4 = DiscriminatorEpilogue(config)

    def forward(self, img: Tensor) -> Tensor:
        expected = (self.config.img_channels, self.config.img_resolution, self.config.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, expected))}], got {list(img.shape)}")
        x: Tensor | None = None
        cur: Tensor | None = img
        if self.channels_last:
            cur = img.contiguous(memory_format=torch.channels_last)
        for res in self.config.block_resolutions:
            x, cur = getattr(self, f"b{res}")(x, cur)
        assert x is not None
        return self.b4(x, cur)

    def features(self, img: Tensor) -> list[Tensor]:
        """Activations after each block (a perceptual feature pyramid that needs no download)."""
        feats = []
        x: Tensor | None = None
        cur: Tensor | None = img.contiguous(memory_format=torch.channels_last) if self.channels_last else img
        for res in self.config.block_resolutions:
            x, cur = getattr(self, f"b{res}")(x, cur)
            assert x is not None
            feats.append(x)
        return feats
