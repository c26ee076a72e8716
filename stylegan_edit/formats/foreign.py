"""Helpers shared by the readers of foreign checkpoints (NVIDIA pickles, TF pickles, rosinality `.pt`).

They recover the architecture facts a foreign file stores only implicitly: the channel schedule
`min(channel_base // r, channel_max)` from weight shapes, and the FIR taps from a stored 2-D filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor

from stylegan_edit.files import CheckpointError
from stylegan_edit.generators.ops import setup_filter

DEFAULT_TAPS = (1, 3, 3, 1)


def infer_channel_schedule(
    channels: dict[int, int], hints: Iterable[tuple[int, int]], source: str | Path
) -> tuple[int, int]:
    """`(channel_base, channel_max)` such that `min(channel_base // r, channel_max) == channels[r]` for every r.

    channels: resolution -> channel count, read from weight shapes. Hints (e.g. the stored constructor
    arguments, then the usual defaults) are tried first; otherwise the smallest consistent base is used,
    preferring a power of two. Raises `CheckpointError` when no such pair exists (e.g. rosinality's
    channel_multiplier=4, whose 64 px layers are wider than its 32 px ones).
    """

    def fits(base: int, cmax: int) -> bool:
        return all(min(base // r, cmax) == c for r, c in channels.items())

    for base, cmax in hints:
        if base > 0 and cmax > 0 and fits(base, cmax):
            return base, cmax
    cmax = max(channels.values())
    lo, hi = 1, 1 << 40
    for r, c in channels.items():
        lo = max(lo, c * r)  # base // r >= c
        if c < cmax:
            hi = min(hi, (c + 1) * r - 1)  # base // r == c exactly
    powers = [1 << k for k in range(41) if lo <= 1 << k <= hi]
    for base in [*powers, lo]:
        if fits(base, cmax):
            return base, cmax
    listed = ", ".join(f"{r}px: {c}" for r, c in sorted(channels.items()))
    raise CheckpointError(
        f"{source}: channel counts ({listed}) do not follow min(channel_base // resolution, channel_max); "
        "this architecture is not supported"
    )


def fir_taps(filter_2d: Tensor, source: str | Path) -> tuple[int, ...]:
    """Recover integer FIR taps (e.g. `(1, 3, 3, 1)`) from a stored normalised 2-D filter `[k, k]` (any scale)."""
    if filter_2d.ndim != 2 or filter_2d.shape[0] != filter_2d.shape[1] or not 0 < filter_2d.shape[0] <= 64:
        raise CheckpointError(f"{source}: unexpected resample filter of shape {list(filter_2d.shape)}")
    f = filter_2d.detach().to(torch.float64)
    if not bool(torch.isfinite(f).all()) or float(f.sum()) <= 0 or float(f.min()) < 0:
        raise CheckpointError(f"{source}: unexpected resample filter of shape {list(f.shape)}")
    f = f / f.sum()
    row = f.sum(dim=1)
    smallest = float(row[row > 0].min())
    taps = tuple(round(float(v) / smallest) for v in row)
    if not torch.allclose(setup_filter(taps).to(torch.float64), f, atol=1e-6):
        raise CheckpointError(f"{source}: the resample filter is not separable into integer taps; not supported")
    return taps
