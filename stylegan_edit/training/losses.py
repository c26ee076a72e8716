"""StyleGAN2 losses (arXiv:1912.04958, config e): non-saturating logistic loss, lazy R1 (arXiv:1801.04406),
path-length regularisation and style mixing, following NVIDIA's stylegan2-ada-pytorch `StyleGAN2Loss`.

All randomness comes from a `PhaseRandom` seeded by (seed, step, phase, rank), never from global RNG state.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from stylegan_edit.generators import AnyGenerator, Generator


class PhaseRandom:
    """The random draws of one training phase: numpy for scalar choices, a torch generator for tensors."""

    def __init__(self, key: list[int], device: torch.device) -> None:
        sequence = np.random.SeedSequence(key)
        self.numpy = np.random.default_rng(sequence)
        self.device = device
        self.torch = torch.Generator(device=device)
        self.torch.manual_seed(int(sequence.generate_state(1, dtype=np.uint64)[0] >> 1))

    def randn(self, shape: list[int]) -> Tensor:
        return torch.randn(shape, generator=self.torch, device=self.device)


def run_generator(
    generator: AnyGenerator, z: Tensor, rng: PhaseRandom, *, mixing_prob: float, update_w_avg: bool = False
) -> tuple[Tensor, Tensor]:
    """Images `[N, C, H, W]` and the ws `[N, num_ws, w_dim]` that made them, with random noise and style mixing.

    With probability `mixing_prob` the layers from a random cutoff on take the ws of a second z (NVIDIA's
    `run_G`). Synthesis runs the non-fused modulated convolution, the one that supports double backward well.
    """
    ws = generator.mapping(z, update_w_avg=update_w_avg)
    num_ws = ws.shape[1]
    if mixing_prob > 0:
        cutoff = int(rng.numpy.integers(1, num_ws)) if num_ws > 1 else num_ws
        mix = rng.numpy.random() < mixing_prob
        z_mix = rng.randn(list(z.shape))
        if mix and cutoff < num_ws:
            ws = torch.cat([ws[:, :cutoff], generator.mapping(z_mix)[:, cutoff:]], dim=1)
    layers = generator.synthesis.noise_layers() if isinstance(generator, Generator) else []  # StyleGAN3: none
    noise = [rng.randn([z.shape[0], 1, layer.resolution, layer.resolution]) for layer in layers]
    images = generator.synthesis(ws, noise=noise, fused_modconv=False)
    return images, ws


def generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating logistic loss `softplus(-D(G(z)))`, per sample `[N]`."""
    return F.softplus(-fake_logits).flatten()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Logistic loss `softplus(D(G(z))) + softplus(-D(x))`, averaged over each half."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(discriminator: Callable[[Tensor], Tensor], reals: Tensor) -> tuple[Tensor, Tensor]:
    """`||grad_x D(x)||^2` per real image `[N]` (differentiable), and the logits `[N, 1]` it came from.

    `discriminator` may augment before D (ADA): the gradient is still taken at the un-augmented reals."""
    reals = reals.detach().requires_grad_(True)
    logits = discriminator(reals)
    (grads,) = torch.autograd.grad(logits.sum(), reals, create_graph=True)
    return grads.square().sum(dim=[1, 2, 3]), logits


def path_length_penalty(
    images: Tensor,
    ws: Tensor,
    pl_mean: Tensor,
    rng: PhaseRandom,
    *,
    pl_decay: float,
    average: Callable[[Tensor], Tensor] = lambda t: t,
) -> tuple[Tensor, Tensor]:
    """`(|J_w^T y| - a)^2` per sample `[N]` and the updated running mean `a` (a scalar, detached).

    `y` is Gaussian noise scaled by `1 / sqrt(H * W)`; `a` moves towards the batch's mean length by `pl_decay`.
    `average` turns a per-process batch mean into the mean over all processes (identity in one process); the
    gradient still flows through the local mean, as in single-process training.
    """
    height, width = images.shape[2], images.shape[3]
    pl_noise = rng.randn(list(images.shape)) / math.sqrt(height * width)
    (grads,) = torch.autograd.grad((images * pl_noise).sum(), ws, create_graph=True)
    lengths = grads.square().sum(dim=2).mean(dim=1).sqrt()
    batch_mean = lengths.mean()
    batch_mean = batch_mean + (average(batch_mean.detach().clone()) - batch_mean.detach())
    new_mean = pl_mean.lerp(batch_mean, pl_decay)
    return (lengths - new_mean).square(), new_mean.detach()
