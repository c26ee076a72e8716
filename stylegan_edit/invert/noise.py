"""Per-image noise maps for projection: starting copies, NVIDIA's regulariser, and the renormalisation after each step.

The regulariser penalises spatial autocorrelation at every level of a 2x2 mean pyramid down to 8x8, so the
optimised maps cannot smuggle image content in (Karras et al., arXiv:1912.04958, section 5).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from stylegan_edit.generators import AnyGenerator, Generator

NO_NOISE = "StyleGAN3 has no noise inputs to optimise: project its latents alone (w or w+, without noise)"


def initial_noise(generator: AnyGenerator, num: int) -> list[Tensor]:
    """Copies `[num, 1, r, r]` of the generator's own `noise_const` maps, one per noise layer (its buffers are
    never modified). A StyleGAN3 generator has no noise inputs: a one-line `ValueError`.

    NVIDIA's projector re-draws the maps; starting from the stored ones instead makes noise optimisation begin
    exactly where projection without it does (both are unit Gaussian draws).
    """
    if not isinstance(generator, Generator):
        raise ValueError(NO_NOISE)
    return [
        layer.noise_const.detach().reshape(1, 1, layer.resolution, layer.resolution).repeat(num, 1, 1, 1).clone()
        for layer in generator.synthesis.noise_layers()
        if layer.use_noise
    ]


def noise_regularization(noise: Sequence[Tensor]) -> Tensor:
    """Per-image penalty `[N]`: the squared horizontal and vertical autocorrelation at every pyramid level.

    Each map is `[N, 1, r, r]`; every level halves it with `avg_pool2d(2)` until the side is at most 8.
    """
    if not noise:
        raise ValueError("noise_regularization needs at least one noise map")
    total = torch.zeros(noise[0].shape[0], device=noise[0].device)
    for level in noise:
        while True:
            total = total + (level * torch.roll(level, shifts=1, dims=3)).mean(dim=(1, 2, 3)).square()
            total = total + (level * torch.roll(level, shifts=1, dims=2)).mean(dim=(1, 2, 3)).square()
            if level.shape[2] <= 8:
                break
            level = F.avg_pool2d(level, kernel_size=2)
    return total


@torch.no_grad()
def normalize_noise_(noise: Sequence[Tensor]) -> None:
    """Shift every image's map to zero mean and scale it to unit RMS (the population std), in place."""
    for level in noise:
        level -= level.mean(dim=(1, 2, 3), keepdim=True)
        level *= level.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
