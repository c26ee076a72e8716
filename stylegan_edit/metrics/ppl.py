"""Perceptual path length (StyleGAN, arXiv:1812.04948 §3.1; NVIDIA's `metrics/perceptual_path_length.py`):
the perceptual distance between images at `t` and `t + epsilon` along random interpolation paths, over
`epsilon ** 2`; slerp in Z, lerp in W; the mean after dropping samples outside the 1st-99th percentiles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from stylegan_edit.generators import AnyGenerator, Generator
from stylegan_edit.latents import LatentSpace
from stylegan_edit.perceptual.losses import FeatureLoss, PerceptualLoss, lpips_weights_path

logger = logging.getLogger(__name__)

PerceptualDistance = Callable[[Tensor, Tensor], Tensor]  # images a, b [N, 3, H, W] in [-1, 1] -> distances [N]


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation of the directions of `a` and `b` `[N, D]` at `t` `[N, 1]` (unit-norm result)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    d = (a * b).sum(dim=-1, keepdim=True)
    p = t * torch.acos(d.clamp(-1, 1))
    c = b - d * a
    c = c / c.norm(dim=-1, keepdim=True)
    out = a * torch.cos(p) + c * torch.sin(p)
    return out / out.norm(dim=-1, keepdim=True)


@dataclass(frozen=True)
class PathLength:
    """PPL: the filtered mean, the raw per-sample distances `[num]`, and the perceptual distance's name."""

    mean: float
    distances: np.ndarray
    distance_name: str


def ppl_distance(device: torch.device | str = "cpu") -> PerceptualLoss:
    """LPIPS-VGG when torchvision's VGG16 weights are in the torch hub cache (never downloaded), else the bundled
    attribute classifier's feature-map distance (LPIPS's recipe without learned weights). `.name` says which."""
    from stylegan_edit.classifiers.attributes import load_classifier
    from stylegan_edit.perceptual.losses import LPIPSLoss

    if lpips_weights_path("vgg").is_file():
        return LPIPSLoss("vgg").to(device)
    logger.info(
        "no cached VGG16 weights at %s: PPL uses the attribute classifier's features", lpips_weights_path("vgg")
    )
    return FeatureLoss(load_classifier(device=device).feature_maps, "classifier")


@torch.no_grad()
def perceptual_path_length(
    generator: AnyGenerator,
    distance: PerceptualDistance,
    num: int,
    *,
    space: LatentSpace | str = LatentSpace.W,
    sampling: str = "full",
    epsilon: float = 1e-4,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = False,
) -> PathLength:
    """PPL of `generator` over `num` random paths in `space` (`z`: slerp, `w`: lerp of the mapped codes).

    sampling: `full` (t uniform in [0, 1]) or `end` (t = 0). Each pair shares fresh random noise maps, as NVIDIA
    randomises the constant noise per batch (StyleGAN3 has no noise inputs: its pairs differ by the latents only).
    Images of any resolution are compared as generated (no crop).
    """
    space = LatentSpace(space)
    if space is LatentSpace.W_PLUS:
        raise ValueError("PPL is measured in z or w")
    if sampling not in ("full", "end"):
        raise ValueError(f"sampling must be 'full' or 'end', got {sampling!r}")
    if num < 1 or epsilon <= 0:
        raise ValueError(f"num and epsilon must be positive, got {num} and {epsilon}")
    device = generator.device
    rng = torch.Generator().manual_seed(seed)
    name = getattr(distance, "name", type(distance).__name__)
    distances = []
    with tqdm(total=num, desc=f"ppl {space.value} ({name})", unit="path", leave=False, disable=not progress) as bar:
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            t = torch.rand(n, 1, generator=rng) * (1.0 if sampling == "full" else 0.0)
            z0, z1 = torch.randn(2, n, generator.z_dim, generator=rng).to(device)
            t = t.to(device)
            if space is LatentSpace.Z:
                ws = generator.mapping(torch.cat([slerp(z0, z1, t), slerp(z0, z1, t + epsilon)]))
            else:
                w0, w1 = generator.mapping(torch.cat([z0, z1])).chunk(2)
                ws = torch.cat([w0.lerp(w1, t[:, :, None]), w0.lerp(w1, t[:, :, None] + epsilon)])
            noise = (
                [
                    torch.randn(n, 1, layer.resolution, layer.resolution, generator=rng).to(device).repeat(2, 1, 1, 1)
                    for layer in generator.synthesis.noise_layers()
                ]
                if isinstance(generator, Generator)
                else []
            )
            images = generator.synthesis(ws, noise=noise).to(torch.float32)
            a, b = images.chunk(2)
            distances.append((distance(a, b) / epsilon**2).cpu().double())
            bar.update(n)
    values = torch.cat(distances).numpy()
    low = np.percentile(values, 1, method="lower")
    high = np.percentile(values, 99, method="higher")
    kept = values[(values >= low) & (values <= high)]
    return PathLength(float(kept.mean()), values, name)
