"""The StyleGAN2 mapping network z -> w with tracked mean and truncation (arXiv:1912.04958), and the generator
half that StyleGAN2 and StyleGAN3 share."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from stylegan_edit.generators.layers import NOISE_MODES, FullyConnectedLayer


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Scale each row of `x [N, D]` to unit mean square (rosinality's PixelNorm)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """`z [N, z_dim]` -> broadcast `ws [N, num_ws, w_dim]` through `num_layers` equalised-lr FC layers."""

    def __init__(
        self,
        *,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        features = [z_dim] + [w_dim] * num_layers
        for idx in range(num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation="lrelu", lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))
        self.w_avg: Tensor

    def forward(
        self,
        z: Tensor,
        *,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_w_avg: bool = False,
    ) -> Tensor:
        """Map `z [N, z_dim]` to `ws [N, num_ws, w_dim]`.

        Truncation `w_avg + psi * (w - w_avg)` applies to the first `truncation_cutoff` layers (all when None).
        `update_w_avg` moves the tracked mean towards this batch's mean (training only; never implicit).
        """
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        x = normalize_2nd_moment(z.to(torch.float32))
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            ws = truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws


def truncate(ws: Tensor, w_avg: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
    """Pull `ws [N, num_ws, w_dim]` towards `w_avg` by `psi` on layers `[:cutoff]` (NVIDIA's `lerp`)."""
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


def check_synthesis_input(ws: Tensor, num_ws: int, w_dim: int, noise_mode: str) -> None:
    """The one check both synthesis networks make: `ws [N, num_ws, w_dim]` and a known `noise_mode`."""
    if ws.ndim != 3 or ws.shape[1] != num_ws or ws.shape[2] != w_dim:
        raise ValueError(f"ws must have shape [N, {num_ws}, {w_dim}], got {list(ws.shape)}")
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")


class MappedGenerator(nn.Module):
    """What StyleGAN2 and StyleGAN3 generators share: `G(z) = G.synthesis(G.mapping(z))`, the mapping network
    built from the config's mapping fields, and the shape properties. Subclasses set `config` and build
    `synthesis` before calling `_add_mapping` (NVIDIA's construction order, so seeded inits agree)."""

    config: Any
    synthesis: nn.Module

    def _add_mapping(self) -> None:
        config = self.config
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
        return int(self.config.z_dim)

    @property
    def w_dim(self) -> int:
        return int(self.config.w_dim)

    @property
    def num_ws(self) -> int:
        return int(self.config.num_ws)

    @property
    def img_resolution(self) -> int:
        return int(self.config.img_resolution)

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
        images: Tensor = self.synthesis(ws, noise_mode=noise_mode)
        return images
