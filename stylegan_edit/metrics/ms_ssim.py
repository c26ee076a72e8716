"""Multi-scale SSIM (Wang et al. 2003) and the diversity score of PGGAN (Karras et al. 2017, arXiv:1710.10196,
§5): the mean MS-SSIM of random pairs of images from one set; lower means more diverse, a collapsed generator
approaches 1. The real data's value is the reference.

PGGAN's scheme: 5 scales weighted 0.0448, 0.2856, 0.3001, 0.2363, 0.1333, an 11-tap Gaussian window (sigma 1.5)
applied without padding, 2x2 box averaging between scales, means over pixels and channels. A scale smaller than
the window shrinks the window to its size and the sigma in proportion (PGGAN's rule), so 64 px images keep all 5
scales (64, 32, 16, 8, 4 px with windows 11, 11, 11, 8, 4). Negative contrast terms count as 0 (a fractional
power of a negative number has no real value).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
MIN_SIZE = 2 ** (len(WEIGHTS) - 1)  # pixels a side that the 5 scales need


def gaussian_window(size: int, sigma: float) -> Tensor:
    """The normalised 1-D Gaussian `[size]` centred on the window (half-pixel offsets for an even size)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x: Tensor, window: Tensor) -> Tensor:
    """Separable 'valid' filtering of `[N, C, H, W]` with the 1-D `window`."""
    c = x.shape[1]
    k = window.to(x)
    x = F.conv2d(x, k.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim_terms(
    x: Tensor, y: Tensor, *, data_range: float = 2.0, window: int = WINDOW, sigma: float = SIGMA
) -> tuple[Tensor, Tensor]:
    """SSIM and its contrast-structure term per image pair, each `[N]`, for `x`, `y` `[N, C, H, W]` with values
    spanning `data_range` (2 for [-1, 1]); the window shrinks to the image as described above."""
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"need two image batches [N, C, H, W] of one shape, got {list(x.shape)} and {list(y.shape)}")
    size = min(window, x.shape[2], x.shape[3])
    g = gaussian_window(size, size * sigma / window)
    x, y = x.to(torch.float64), y.to(torch.float64)
    mu_x, mu_y = _filter(x, g), _filter(y, g)
    var_x = _filter(x * x, g) - mu_x**2
    var_y = _filter(y * y, g) - mu_y**2
    cov = _filter(x * y, g) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs_map
    return ssim_map.mean(dim=[1, 2, 3]), cs_map.mean(dim=[1, 2, 3])


def ms_ssim(x: Tensor, y: Tensor, *, data_range: float = 2.0, weights: tuple[float, ...] = WEIGHTS) -> Tensor:
    """MS-SSIM per image pair `[N]` (1 for identical images) of `x`, `y` `[N, C, H, W]` (values spanning
    `data_range`): the contrast-structure terms of the finer scales and the SSIM of the coarsest, each raised to
    its weight. Needs at least `2 ** (len(weights) - 1)` pixels a side."""
    if min(x.shape[-2:]) < 2 ** (len(weights) - 1):  # MIN_SIZE for the default weights
        raise ValueError(f"{len(weights)} scales need images of at least {2 ** (len(weights) - 1)} px a side")
    result = torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    for level, weight in enumerate(weights):
        ssim, cs = ssim_terms(x, y, data_range=data_range)
        term = ssim if level == len(weights) - 1 else cs
        result = result * term.clamp(min=0) ** weight
        if level < len(weights) - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return result


def random_pairs(num_images: int, num_pairs: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`num_pairs` index pairs `(i, j)`, `i != j`, drawn uniformly from `num_images` (numpy `RandomState(seed)`)."""
    if num_images < 2 or num_pairs < 1:
        raise ValueError(f"need at least 2 images and 1 pair, got {num_images} images and {num_pairs} pairs")
    rng = np.random.RandomState(seed)
    first = rng.randint(num_images, size=num_pairs)
    second = (first + rng.randint(1, num_images, size=num_pairs)) % num_images
    return first, second


def ms_ssim_diversity(images: Tensor, *, num_pairs: int | None = None, seed: int = 0, batch_size: int = 256) -> float:
    """PGGAN's diversity score: mean MS-SSIM over `num_pairs` (default: as many as images) random pairs of
    distinct images from `images` `[N, C, H, W]` in [-1, 1]. In [0, 1]; lower is more diverse."""
    first, second = random_pairs(len(images), num_pairs or len(images), seed=seed)
    scores = []
    for start in range(0, len(first), batch_size):
        a, b = first[start : start + batch_size], second[start : start + batch_size]
        scores.append(ms_ssim(images[torch.from_numpy(a)], images[torch.from_numpy(b)]))
    return float(torch.cat(scores).mean())
