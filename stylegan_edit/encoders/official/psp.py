"""The encoders of pSp's official checkpoints (eladrich/pixel2style2pixel, `encoder.*` tensors): the gradual
feature-pyramid encoder and the two that map the backbone's last layer into W or W+.

Each forward takes the official test input (`[N, input_nc, 256, 256]` in [-1, 1]) and returns the raw codes, before
the project adds `latent_avg`: `[N, n_styles, 512]`, or `[N, 512]` for `BackboneEncoderUsingLastLayerIntoW`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stylegan_edit.encoders.official.irse import EqualLinear, GradualStyleBlock, InputLayer, IRSEBody, upsample_add

COARSE_IND = 3
MIDDLE_IND = 7
STYLE_DIM = 512


def style_spatial(i: int) -> int:
    """The pyramid side that style `i`'s head reduces: 16 (coarse, i < 3), 32 (middle, i < 7), else 64 (fine)."""
    return 16 if i < COARSE_IND else 32 if i < MIDDLE_IND else 64


class FeaturePyramidEncoder(nn.Module):
    """What `GradualStyleEncoder` and e4e's `Encoder4Editing` share: stem, IR-SE-50 body, one `GradualStyleBlock`
    per style in `styles`, and the lateral 1x1 convs `latlayer1` (256 -> 512) and `latlayer2` (128 -> 512)."""

    def __init__(self, *, input_nc: int = 3, n_styles: int = 18) -> None:
        super().__init__()
        self.input_layer = InputLayer(input_nc)
        self.body = IRSEBody(50, "ir_se")
        self.style_count = n_styles
        self.styles = nn.ModuleList(GradualStyleBlock(512, 512, style_spatial(i)) for i in range(n_styles))
        self.latlayer1 = nn.Conv2d(256, 512, kernel_size=1, stride=1, padding=0)
        self.latlayer2 = nn.Conv2d(128, 512, kernel_size=1, stride=1, padding=0)

    def features(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Input -> the body's (c1, c2, c3) at 1/4, 1/8, 1/16 of the input side."""
        return self.body.pyramid(self.input_layer(x))


class GradualStyleEncoder(FeaturePyramidEncoder):
    """pSp: styles 0-2 from c3, 3-6 from p2 = up(c3) + latlayer1(c2), the rest from p1 = up(p2) + latlayer2(c1)."""

    def forward(self, x: Tensor) -> Tensor:
        c1, c2, c3 = self.features(x)
        latents = [self.styles[j](c3) for j in range(min(COARSE_IND, self.style_count))]
        p2 = upsample_add(c3, self.latlayer1(c2))
        latents += [self.styles[j](p2) for j in range(COARSE_IND, min(MIDDLE_IND, self.style_count))]
        p1 = upsample_add(p2, self.latlayer2(c1))
        latents += [self.styles[j](p1) for j in range(MIDDLE_IND, self.style_count)]
        return torch.stack(latents, dim=1)


class BackboneEncoderUsingLastLayerIntoW(nn.Module):
    """One W code: the body's last layer averaged over space (`output_pool`), then an `EqualLinear` (`linear`)."""

    def __init__(self, *, input_nc: int = 3) -> None:
        super().__init__()
        self.input_layer = InputLayer(input_nc)
        self.output_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.linear = EqualLinear(512, 512, lr_mul=1)
        self.body = IRSEBody(50, "ir_se")

    def forward(self, x: Tensor) -> Tensor:
        x = self.output_pool(self.body(self.input_layer(x)))
        return self.linear(x.view(-1, 512))


class BackboneEncoderUsingLastLayerIntoWPlus(nn.Module):
    """All W+ codes from the last layer: `output_layer_2` (BatchNorm, 7x7 adaptive average pool, flatten, Linear
    25088 -> 512), then an `EqualLinear` (`linear`) to 512 * n_styles."""

    def __init__(self, *, input_nc: int = 3, n_styles: int = 18) -> None:
        super().__init__()
        self.n_styles = n_styles
        self.input_layer = InputLayer(input_nc)
        self.output_layer_2 = nn.Sequential(
            nn.BatchNorm2d(512), nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(), nn.Linear(512 * 7 * 7, 512)
        )
        self.linear = EqualLinear(512, 512 * n_styles, lr_mul=1)
        self.body = IRSEBody(50, "ir_se")

    def forward(self, x: Tensor) -> Tensor:
        x = self.output_layer_2(self.body(self.input_layer(x)))
        return self.linear(x).view(-1, self.n_styles, 512)
