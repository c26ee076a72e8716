"""Reconstruction metrics between images in [-1, 1]: MSE, PSNR and SSIM on the [0, 1] scale, plus a perceptual distance
and, on request, face identity.

SSIM follows Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5) over valid positions, as
`skimage.metrics.structural_similarity(..., gaussian_weights=True, use_sample_covariance=False, data_range=1)`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from stylegan_edit.perceptual.identity import identity_similarity

if TYPE_CHECKING:
    from stylegan_edit.perceptual.losses import PerceptualLoss

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # scipy's default, which skimage's Gaussian window uses: radius int(3.5 * 1.5 + 0.5) = 5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _unit(images: Tensor) -> Tensor:
    return ((images.to(torch.float32) + 1) / 2).clamp(0, 1)


def _check(images: Tensor, targets: Tensor) -> None:
    if images.ndim != 4 or images.shape != targets.shape:
        raise ValueError(
            f"images and targets must both be [N, C, H, W], got {list(images.shape)} and {list(targets.shape)}"
        )


def mse(images: Tensor, targets: Tensor) -> Tensor:
    """Per-image mean squared error `[N]` on the [0, 1] scale (inputs in [-1, 1], clamped)."""
    _check(images, targets)
    return (_unit(images) - _unit(targets)).square().mean(dim=(1, 2, 3))


def psnr(images: Tensor, targets: Tensor) -> Tensor:
    """Per-image peak signal-to-noise ratio `[N]` in dB, peak 1 on the [0, 1] scale (inf for identical images)."""
    return -10 * torch.log10(mse(images, targets))


def _gaussian_window(sigma: float, radius: int, device: torch.device) -> Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def ssim(images: Tensor, targets: Tensor) -> Tensor:
    """Per-image mean SSIM `[N]` on the [0, 1] scale, averaged over channels.

    Images smaller than the 11x11 window use the largest window that fits (skimage would refuse them).
    """
    _check(images, targets)
    radius = min(int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5), (min(images.shape[-2:]) - 1) // 2)
    x = _unit(images).to(torch.float64)
    y = _unit(targets).to(torch.float64)
    c = x.shape[1]
    g = _gaussian_window(SSIM_SIGMA, radius, x.device)
    kernel_h = g.reshape(1, 1, -1, 1).repeat(c, 1, 1, 1)
    kernel_w = g.reshape(1, 1, 1, -1).repeat(c, 1, 1, 1)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(t, kernel_h, groups=c), kernel_w, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.square()
    var_y = blur(y * y) - mu_y.square()
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3)).to(torch.float32)


def reconstruction_metrics(
    images: Tensor, targets: Tensor, perceptual: PerceptualLoss | None = None, *, identity: bool = False
) -> dict[str, Tensor]:
    """Per-image `mse`, `psnr`, `ssim` and, when a perceptual loss is given, `perceptual` (each `[N]`, on CPU).

    images and targets: `[N, 3, H, W]` in [-1, 1] on the perceptual loss's device. identity: also `identity`, the
    cosine similarity of dlib's face descriptors (`perceptual.identity.IDENTITY_MEASURE`), NaN for an image pair
    in which dlib finds no face, and left out when it finds none in any pair (not a face image).
    """
    with torch.no_grad():
        result = {"mse": mse(images, targets), "psnr": psnr(images, targets), "ssim": ssim(images, targets)}
        if perceptual is not None:
            result["perceptual"] = perceptual(images.to(torch.float32), targets.to(images.device, torch.float32))
    if identity:
        result.update(identity_metric(images, targets))
    return {k: v.detach().cpu() for k, v in result.items()}


def identity_metric(images: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """`{"identity": [N]}`: per pair the cosine similarity of dlib's face descriptors, NaN where dlib finds no face
    in the image or its target; `{}` when it finds none in any pair. images, targets: `[N, 3, H, W]` in [-1, 1]."""
    _check(images, targets)
    similarities = identity_similarity(images, targets)
    if all(s is None for s in similarities):
        return {}
    return {"identity": torch.tensor([math.nan if s is None else s for s in similarities])}
