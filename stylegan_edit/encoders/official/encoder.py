"""An official pSp / e4e checkpoint's encoder behind our encoder interface: the official test transform, the raw
network, and the projects' `latent_avg` addition, giving W+ `Latents` of the checkpoint's decoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylegan_edit.encoders.config import check_generator_shape
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace

ENCODER_PREFIX = "encoder."  # the encoder's tensors in an official checkpoint's state_dict

INPUT_SIDE = 256
STYLE_DIM = 512
Project = Literal["psp", "e4e", "restyle_psp", "restyle_e4e"]


@dataclass(frozen=True)
class OfficialSpec:
    """What a checkpoint's `opts` decide: the project, the encoder class, the generator's resolution and W+ layer
    count (`n_styles = 2 * log2(output_size) - 2`), the input channels and how the codes are finished."""

    project: Project
    encoder_type: str
    output_size: int
    input_nc: int
    n_styles: int
    start_from_latent_avg: bool
    learn_in_w: bool

    @property
    def arch(self) -> str:
        """`e4e` for e4e-style encoders (one W code plus offsets), `psp` otherwise."""
        return "e4e" if self.encoder_type == "Encoder4Editing" or self.project == "restyle_e4e" else "psp"


def official_input(images: Tensor, *, channels: int, device: torch.device) -> Tensor:
    """Images `[N, channels, R, R]` in [-1, 1] -> `[N, channels, 256, 256]` float32 on `device`.

    The official test transform is `Resize((256, 256))` on a PIL image, `ToTensor`, `Normalize(0.5, 0.5)`; on a
    tensor this is torchvision's `Resize` (bilinear, antialias, align_corners=False), applied in [-1, 1], which
    equals it in [0, 1] up to float rounding (PIL also rounds to 8 bits). A 256 px input is used as given.
    """
    if images.ndim != 4 or images.shape[1] != channels or images.shape[2] != images.shape[3]:
        raise ValueError(f"the encoder takes square images [N, {channels}, R, R], got {list(images.shape)}")
    images = images.to(device, torch.float32)
    if images.shape[-1] != INPUT_SIDE:
        images = F.interpolate(
            images, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False, antialias=True
        )
    return images


class OfficialEncoder(nn.Module):
    """`encoder` (the official module, its checkpoint's `encoder.*` names) plus `latent_avg` (`[1 or n_styles,
    512]`, or `[512]` when learning in W; None when the codes are not centred on it)."""

    def __init__(self, encoder: nn.Module, spec: OfficialSpec, latent_avg: Tensor | None, source: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.spec = spec
        self.source = source
        self.register_buffer("latent_avg", latent_avg)
        self.latent_avg: Tensor | None
        self.metadata: dict[str, str] = {"source_format": spec.project, "encoder_type": spec.encoder_type}

    @property
    def arch(self) -> str:
        return self.spec.arch

    @property
    def device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    @property
    def num_ws(self) -> int:
        return self.spec.n_styles

    def codes(self, x: Tensor) -> Tensor:
        """The official input `[N, input_nc, 256, 256]` -> W+ `[N, n_styles, 512]`, as the project's `psp.forward`
        finishes them: `codes + latent_avg` when `start_from_latent_avg`, a W code repeated on every layer."""
        codes = self.encoder(x)
        if self.spec.start_from_latent_avg and self.latent_avg is not None:
            codes = (
                codes + self.latent_avg if codes.ndim == 3 or self.spec.learn_in_w else codes[:, None] + self.latent_avg
            )
        if codes.ndim == 2:
            codes = codes[:, None]
        return codes.expand(-1, self.spec.n_styles, -1)

    def forward(self, images: Tensor) -> Tensor:
        """Images `[N, input_nc, R, R]` in [-1, 1] -> ws `[N, n_styles, 512]`."""
        return self.codes(official_input(images, channels=self.spec.input_nc, device=self.device))

    @torch.no_grad()
    def encode(self, images: Tensor) -> Latents:
        """W+ latents `[N, n_styles, 512]` of the checkpoint's decoder for images `[N, 3, R, R]` in [-1, 1]."""
        return Latents(self(images).contiguous(), LatentSpace.W_PLUS)

    def check_generator(self, generator: AnyGenerator, source: str = "the encoder") -> None:
        """Raise a one-line `ValueError` when `generator` is not of the decoder's shape (resolution, num_ws, w_dim,
        RGB); the official file does not record which trained generator it belongs to."""
        check_generator_shape(
            generator,
            source,
            resolution=self.spec.output_size,
            num_ws=self.spec.n_styles,
            w_dim=STYLE_DIM,
            img_channels=3,
        )
