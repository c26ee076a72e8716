"""The StyleGAN2 generator: mapping + synthesis, with NVIDIA's parameter names (arXiv:1912.04958)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stylegan_edit.generators.config import GeneratorConfig
from stylegan_edit.generators.mapping import MappingNetwork
from stylegan_edit.generators.synthesis import SynthesisNetwork


class Generator(nn.Module):
    """`G(z) = G.synthesis(G.mapping(z))`; state dict keys equal NVIDIA's `G_ema` keys."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.synthesis = SynthesisNetwork(config)
        self.mapping = MappingNetwork(
            z_dim=config.z_dim,
            w_dim=config.w_dim,
            num_ws=config.num_ws,
            num_layers=config.mapping_layers,
            lr_multiplier=config.mapping_lr_multiplier,
            w_avg_beta=config.w_avg_beta,
        )

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    @property
    def img_resolution(self) -> int:
        return self.config.img_resolution

    @property
    def device(self) -> torch.device:
        return self.mapping.w_avg.device

    def forward(
        self,
        z: Tensor,
        *,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
    ) -> Tensor:
        """`z [N, z_dim]` -> image `[N, C, H, W]` in about [-1, 1]."""
        ws = self.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)
