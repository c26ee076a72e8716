"""The mean and spread of W, estimated as NVIDIA's projector does and cached per mapping network.

NVIDIA's projector (stylegan2-ada-pytorch `projector.py`) maps `RandomState(123).randn(10000, z_dim)` with psi = 1;
`w_avg` is the mean of those codes (not the tracked `mapping.w_avg` buffer) and `w_std` their RMS distance from it.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from stylegan_edit.files import cache_dir, read_safetensors, write_safetensors
from stylegan_edit.generators.kinds import AnyGenerator
from stylegan_edit.latents import seed_z

logger = logging.getLogger(__name__)

WSTATS_FORMAT = "stylegan-edit/w-stats"

_MEMORY_CACHE: dict[str, tuple[Tensor, float]] = {}


@dataclass(frozen=True)
class WStats:
    """`mean [w_dim]` (on CPU) and `std`, the RMS distance `sqrt(sum ||w - mean||^2 / num_samples)`."""

    mean: Tensor
    std: float


def mapping_key(generator: AnyGenerator, num_samples: int, seed: int) -> str:
    """A hex digest of the mapping network's tensors and the sampling settings (the cache key)."""
    digest = hashlib.sha256(f"{num_samples}:{seed}:{generator.z_dim}:{generator.w_dim}".encode())
    for name, tensor in sorted(generator.mapping.state_dict().items()):
        if name == "w_avg":  # the tracked mean does not change the mapping
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def w_stats(
    generator: AnyGenerator,
    *,
    num_samples: int = 10000,
    seed: int = 123,
    disk_cache: bool = True,
    batch_size: int = 2000,
) -> WStats:
    """Mean and RMS spread of W over `num_samples` codes mapped from `RandomState(seed).randn(num_samples, z_dim)`.

    Computed once per mapping network (keyed by a hash of its weights) and kept in memory and, when `disk_cache`,
    under `cache_dir()/w-stats` (a failed cache write is logged and ignored).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    key = mapping_key(generator, num_samples, seed)
    if key in _MEMORY_CACHE:
        mean, std = _MEMORY_CACHE[key]
        return WStats(mean.clone(), std)
    path = cache_dir() / "w-stats" / f"{key}.safetensors"
    stats = _read(path) if disk_cache else None
    if stats is None:
        stats = _compute(generator, num_samples, seed, batch_size)
        if disk_cache:
            _write(path, stats, key)
    _MEMORY_CACHE[key] = (stats.mean.clone(), stats.std)
    return stats


@torch.no_grad()
def _compute(generator: AnyGenerator, num_samples: int, seed: int, batch_size: int) -> WStats:
    z = seed_z(seed, generator.z_dim, num_samples)
    parts = []
    for start in range(0, num_samples, batch_size):
        chunk = z[start : start + batch_size].to(generator.device)
        parts.append(generator.mapping(chunk, truncation_psi=1.0)[:, 0].to("cpu", torch.float64))
    ws = torch.cat(parts)
    mean = ws.mean(dim=0)
    std = math.sqrt(float((ws - mean).square().sum()) / num_samples)
    return WStats(mean.to(torch.float32), std)


def _read(path: Path) -> WStats | None:
    if not path.is_file():
        return None
    try:
        tensors, _ = read_safetensors(path, what="W statistics cache", format=WSTATS_FORMAT)
        return WStats(tensors["mean"], float(tensors["std"]))
    except (ValueError, KeyError) as exc:  # a damaged cache entry is recomputed, never fatal
        logger.debug("ignoring unreadable W statistics cache %s: %s", path, exc)
        return None


def _write(path: Path, stats: WStats, key: str) -> None:
    try:
        tensors = {"mean": stats.mean, "std": torch.tensor(stats.std, dtype=torch.float64)}
        write_safetensors(path, tensors, {"format": WSTATS_FORMAT, "key": key})
    except OSError as exc:
        logger.debug("could not cache W statistics at %s: %s", path, exc)
