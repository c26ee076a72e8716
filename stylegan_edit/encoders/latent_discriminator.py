"""e4e's latent discriminator (arXiv:2102.02766, section 4.2): an MLP telling the encoder's per-layer codes from the
generator's W codes, trained with the non-saturating logistic loss and R1 (arXiv:1801.04406) on the real codes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LatentDiscriminator(nn.Module):
    """Codes `[N, w_dim]` -> logits `[N, 1]` through `num_layers` leaky-ReLU layers of `w_dim` units (e4e's
    `LatentCodesDiscriminator`, four hidden layers)."""

    def __init__(self, w_dim: int, *, num_layers: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(num_layers):
            layers += [nn.Linear(w_dim, w_dim), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(w_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, codes: Tensor) -> Tensor:
        return self.net(codes)


def encoder_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """The encoder's loss `softplus(-D(E(x)))`, averaged (its codes should pass for W codes)."""
    return F.softplus(-fake_logits).mean()


def latent_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """`softplus(D(fake)) + softplus(-D(real))`, each averaged."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def latent_r1_penalty(discriminator: nn.Module, real_codes: Tensor) -> Tensor:
    """`||grad_w D(w)||^2` per real code `[N]`, differentiable (for the lazy R1 step)."""
    codes = real_codes.detach().requires_grad_(True)
    (grads,) = torch.autograd.grad(discriminator(codes).sum(), codes, create_graph=True)
    return grads.square().sum(dim=1)
