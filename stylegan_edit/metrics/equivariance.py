"""Translation equivariance of a StyleGAN3 generator, EQ-T (arXiv:2106.12423, §4 and appendix E): the PSNR
between images rendered with a translated input and the untranslated images shifted by the same whole number of
pixels, over the pixels both images cover."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from stylegan_edit.generators import StyleGAN3Generator


def integer_shift(images: Tensor, dx: int, dy: int) -> tuple[Tensor, Tensor]:
    """`images [N, C, H, W]` moved right by `dx` and down by `dy` pixels (zeros where nothing moved in), and the
    mask of the covered pixels."""
    _, _, h, w = images.shape
    shifted = torch.zeros_like(images)
    mask = torch.zeros_like(images)
    if abs(dx) < w and abs(dy) < h:
        source = images[:, :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
        shifted[:, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = source
        mask[:, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = 1
    return shifted, mask


@dataclass(frozen=True)
class Equivariance:
    """EQ-T in dB (higher is more equivariant; images in [-1, 1], so the peak-to-peak range is 2) over
    `num_samples` images, each translated by a random whole number of pixels up to `translate_max` of the width."""

    psnr: float
    num_samples: int
    translate_max: float


@torch.no_grad()
def translation_equivariance(
    generator: StyleGAN3Generator,
    *,
    num_samples: int = 64,
    batch_size: int = 8,
    translate_max: float = 0.125,
    seed: int = 0,
) -> Equivariance:
    """NVIDIA's EQ-T: for each batch, a random integer translation `t` (a fraction of the image, rounded to whole
    pixels) is applied through the input layer's transform and compared with the reference images shifted by
    `t`. The generator's transform is restored afterwards."""
    if num_samples < 1 or batch_size < 1:
        raise ValueError("num_samples and batch_size must be positive")
    if not 0 < translate_max < 1:
        raise ValueError(f"translate_max must be in (0, 1), got {translate_max}")
    rng = torch.Generator().manual_seed(seed)
    res = generator.img_resolution
    squared, covered = torch.zeros([], dtype=torch.float64), torch.zeros([], dtype=torch.float64)
    done = 0
    while done < num_samples:
        n = min(batch_size, num_samples - done)
        z = torch.randn([n, generator.z_dim], generator=rng).to(generator.device)
        ws = generator.mapping(z)
        with generator.transformed():
            reference = generator.synthesis(ws)
        t = ((torch.rand(2, generator=rng) * 2 - 1) * translate_max * res).round()
        with generator.transformed(translate=(float(t[0]) / res, float(t[1]) / res)):
            images = generator.synthesis(ws)
        expected, mask = integer_shift(reference, int(t[0]), int(t[1]))
        squared += ((expected - images).square() * mask).to(torch.float64).sum().cpu()
        covered += mask.to(torch.float64).sum().cpu()
        done += n
    mse = float(squared / covered)
    psnr = math.inf if mse == 0 else 20 * math.log10(2) - 10 * math.log10(mse)
    return Equivariance(psnr=psnr, num_samples=num_samples, translate_max=translate_max)
