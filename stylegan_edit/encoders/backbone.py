"""The encoders' residual backbone and feature pyramid (pSp, arXiv:2008.00951, section 3 and figure 2).

IR-SE blocks as in pSp's ResNet-IR-SE-50, with GroupNorm in place of BatchNorm: it behaves the same in training and
inference, does not depend on the batch size, and has no running statistics to keep equal across torchrun
replicas. Four stride-2 stages; the pyramid levels are taken after stages 2, 3 and 4 (input/4, /8, /16) and merged
top-down (FPN, arXiv:1612.03144).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.encoders.config import EncoderConfig
from stylegan_edit.generators.layers import FullyConnectedLayer

CHANNELS_PER_GROUP = 8  # enough values per group even where a stage's output is 1x1 (16 px inputs)
INPUT_CONV = "stem.0.weight"  # both backbones' first convolution `[C, input_channels, 3, 3]`


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, max(channels // CHANNELS_PER_GROUP, 1)), channels)


class SqueezeExcitation(nn.Module):
    """Channel attention (arXiv:1709.01507): scale each channel by a gate computed from the global average."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * gate.sigmoid()


class ResidualBlock(nn.Module):
    """pSp's `bottleneck_IR(_SE)`: norm, 3x3 conv, PReLU, 3x3 conv (with the stride), norm, optional SE."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, *, squeeze_excitation: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            group_norm(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, stride, 1, bias=False),
            group_norm(out_channels),
        ]
        if squeeze_excitation:
            layers.append(SqueezeExcitation(out_channels))
        self.residual = nn.Sequential(*layers)
        self.shortcut: nn.Module
        if in_channels == out_channels:
            self.shortcut = nn.MaxPool2d(1, stride)  # pSp's identity that also subsamples
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), group_norm(out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) + self.shortcut(x)


class Backbone(nn.Module):
    """A stem and four stride-2 stages: images `[N, C, R, R]` (R = input_resolution) -> the features after stages
    2, 3 and 4, `[N, c_i, R/4 .. R/16]`. Subclasses build `stem` and `stages`."""

    stem: nn.Module
    stages: nn.ModuleList

    def forward(self, images: Tensor) -> list[Tensor]:
        x = self.stem(images)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features[1:]


class IRSEBackbone(Backbone):
    """pSp's ResNet-IR(-SE) layout, scaled by `stem_channels`, `stage_channels` and `stage_blocks`."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(config.input_channels, config.stem_channels, 3, 1, 1, bias=False),
            group_norm(config.stem_channels),
            nn.PReLU(config.stem_channels),
        )
        stages = []
        channels = config.stem_channels
        for out_channels, num_blocks in zip(config.stage_channels, config.stage_blocks, strict=True):
            blocks = [
                ResidualBlock(
                    channels if i == 0 else out_channels,
                    out_channels,
                    2 if i == 0 else 1,
                    squeeze_excitation=config.squeeze_excitation,
                )
                for i in range(num_blocks)
            ]
            stages.append(nn.Sequential(*blocks))
            channels = out_channels
        self.stages = nn.ModuleList(stages)


class ClassifierBackbone(Backbone):
    """The bundled attribute classifier's stem and stride-2 stages (conv-BN-ReLU, `metrics.classifier`), under the
    classifier's parameter names so that its weights load strictly. BatchNorm keeps the statistics it starts with
    (frozen, as when fine-tuning a pretrained backbone) and learns only its affine parameters. A ReStyle encoder's
    stem convolution takes `config.input_channels` (the classifier's weights fill the first three, `INPUT_CONV`)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        from stylegan_edit.classifiers.attributes import AttributeClassifier, ClassifierConfig

        widths = (config.stem_channels, *config.stage_channels)
        classifier = AttributeClassifier(ClassifierConfig(resolution=config.input_resolution, channels=widths))
        self.stem = classifier.stem
        if config.input_channels != 3:
            self.stem[0] = nn.Conv2d(config.input_channels, widths[0], 3, 1, 1, bias=False)
        self.stages = classifier.stages
        self.train()

    def train(self, mode: bool = True) -> ClassifierBackbone:
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self


def build_backbone(config: EncoderConfig) -> Backbone:
    """The backbone `config.backbone` names."""
    return ClassifierBackbone(config) if config.backbone == "classifier" else IRSEBackbone(config)


class FeaturePyramid(nn.Module):
    """Backbone features (fine to coarse) -> pyramid levels `[coarse R/16, medium R/8, fine R/4]`, each with
    `pyramid_channels` channels: lateral 1x1 convolutions plus the upsampled coarser level (pSp's `_upsample_add`)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        width = config.pyramid_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in config.stage_channels[1:])

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        fine, medium, coarse = (lateral(f) for lateral, f in zip(self.lateral, features, strict=True))
        medium = medium + F.interpolate(coarse, size=medium.shape[-2:], mode="bilinear", align_corners=True)
        fine = fine + F.interpolate(medium, size=fine.shape[-2:], mode="bilinear", align_corners=True)
        return [coarse, medium, fine]


class Map2Style(nn.Module):
    """pSp's `GradualStyleBlock`: stride-2 convolutions down to 1x1, then an equalised-lr linear layer to w_dim."""

    def __init__(self, in_channels: int, channels: int, w_dim: int, spatial: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(spatial))):
            layers += [nn.Conv2d(in_channels, channels, 3, 2, 1), nn.LeakyReLU(0.2)]
            in_channels = channels
        self.convs = nn.Sequential(*layers)
        self.linear = FullyConnectedLayer(in_channels, w_dim)

    def forward(self, features: Tensor) -> Tensor:
        return self.linear(self.convs(features).flatten(1))
