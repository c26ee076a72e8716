"""The encoders of e4e's official checkpoints (omertov/encoder4editing, `encoder.*` tensors): `Encoder4Editing`
(one W code plus per-layer offsets) and e4e's W-only `SingleStyleCodeEncoder`.

Each forward takes the official test input (`[N, 3, 256, 256]` in [-1, 1]) and returns `[N, n_styles, 512]` codes,
before the project adds `latent_avg`.
"""

from __future__ import annotations

from torch import Tensor

from stylegan_edit.encoders.official.irse import upsample_add
from stylegan_edit.encoders.official.psp import (
    COARSE_IND,
    MIDDLE_IND,
    BackboneEncoderUsingLastLayerIntoW,
    FeaturePyramidEncoder,
)

INFERENCE_STAGE = 18
"""e4e's `ProgressiveStage.Inference`: the stage a freshly built encoder is in, so every offset is applied."""


class Encoder4Editing(FeaturePyramidEncoder):
    """`w[:, 0] = styles[0](c3)` on every layer, plus `styles[i](level of i)` on layers 1 .. stage (at most
    n_styles - 1); the levels are c3, then p2 from layer 3 on, p1 from layer 7 on (built as pSp's pyramid)."""

    def __init__(self, *, n_styles: int = 18, progressive_stage: int = INFERENCE_STAGE) -> None:
        super().__init__(input_nc=3, n_styles=n_styles)
        self.progressive_stage = progressive_stage

    def forward(self, x: Tensor) -> Tensor:
        c1, c2, c3 = self.features(x)
        w0 = self.styles[0](c3)
        w = w0.repeat(self.style_count, 1, 1).permute(1, 0, 2)
        features, p2 = c3, c3
        for i in range(1, min(self.progressive_stage + 1, self.style_count)):
            if i == COARSE_IND:
                p2 = upsample_add(c3, self.latlayer1(c2))
                features = p2
            elif i == MIDDLE_IND:
                features = upsample_add(p2, self.latlayer2(c1))
            w[:, i] += self.styles[i](features)
        return w


class SingleStyleCodeEncoder(BackboneEncoderUsingLastLayerIntoW):
    """e4e's `BackboneEncoderUsingLastLayerIntoW`: pSp's W encoder (3 input channels), its code repeated on all
    `n_styles` layers."""

    def __init__(self, *, n_styles: int = 18) -> None:
        super().__init__(input_nc=3)
        self.style_count = n_styles

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).repeat(self.style_count, 1, 1).permute(1, 0, 2)
