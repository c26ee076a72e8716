"""The parts of a StyleGAN3 config (arXiv:2106.12423, appendix F.1) that an NVIDIA snapshot stores only through
their effect on the layers: `channel_base` / `channel_max` behind the channel counts, and `first_stopband` /
`last_stopband_rel` behind the sampling rates and transition half-widths; plus the comparison of layer facts and
the filter lengths a config implies."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from stylegan_edit.files import CheckpointError
from stylegan_edit.generators import StyleGAN3Config
from stylegan_edit.generators.alias_free_config import LayerSpec

DEFAULT_CHANNELS = ((32768, 512), (65536, 1024))  # train.py's --cbase/--cmax for T, and R's doubled widths
DEFAULT_STOPBANDS = (2**2.1, 2**0.3)  # networks_stylegan3's first_stopband, last_stopband_rel


def spec_facts(spec: LayerSpec) -> dict[str, Any]:
    """A layer spec as the facts a snapshot's `SynthesisLayer` record stores (its module name included)."""
    facts = asdict(spec)
    del facts["index"]
    return {"name": spec.name, **facts}


def facts_mismatch(ours: dict[str, Any], stored: dict[str, Any]) -> str | None:
    """`None` when every fact of `ours` equals the stored one (floats to 1e-9 relative, as both come from the
    same float64 formulas), else `'<fact>: the pickle stores X, the rebuilt network has Y'` for the first that
    differs."""
    for key, value in ours.items():
        theirs = stored.get(key)
        if isinstance(value, float) and isinstance(theirs, float) and not isinstance(theirs, bool):
            same = math.isclose(value, theirs, rel_tol=1e-9, abs_tol=1e-12)
        else:
            same = value == theirs
        if not same:
            return f"{key}: the pickle stores {theirs!r}, the rebuilt network has {value!r}"
    return None


def schedule_mismatch(config: StyleGAN3Config, layers: list[dict[str, Any]]) -> str | None:
    """The first layer fact in which `config`'s schedule disagrees with the stored `layers` (one dict per layer,
    ToRGB last), as `'layer <name>: <fact>: ...'`; `None` when the schedule reproduces them all."""
    specs = config.layers()
    if len(specs) != len(layers):
        return f"the config has {len(specs)} layers, the pickle {len(layers)}"
    for spec, stored in zip(specs, layers, strict=True):
        problem = facts_mismatch(spec_facts(spec), stored)
        if problem is not None:
            return f"layer {stored.get('name')}: {problem}"
    return None


def channel_schedule(
    layers: list[dict[str, Any]], hints: Iterable[tuple[int, int]], source: str | Path
) -> tuple[int, int]:
    """`(channel_base, channel_max)` with `rint(min(channel_base / 2 / cutoff, channel_max))` equal to every
    non-ToRGB layer's out_channels (cutoff: its out_cutoff). `hints` (the recorded kwargs, then train.py's values)
    are tried first; otherwise the widest layer is the cap and a base in the interval the counts allow is chosen,
    a power of two when one fits. Raises `CheckpointError` when none fits."""
    convs = [layer for layer in layers if not layer["is_torgb"]]
    cutoffs = np.array([float(layer["out_cutoff"]) for layer in convs])
    channels = np.array([int(layer["out_channels"]) for layer in convs])

    def fits(base: float, cmax: float) -> bool:
        return bool(np.array_equal(np.rint(np.minimum((base / 2) / cutoffs, cmax)), channels))

    for base, cmax in hints:
        if base > 0 and cmax > 0 and fits(base, cmax):
            return base, cmax
    cmax = int(channels.max())
    capped = channels == cmax
    lo = float(np.max(2 * cutoffs * (channels - 0.5)))
    hi = float(np.min(2 * cutoffs[~capped] * (channels[~capped] + 0.5))) if not capped.all() else 2.0**40
    powers = [2**k for k in range(41) if lo <= 2**k <= hi]
    for base in [*powers, *range(math.ceil(lo), min(math.floor(hi), math.ceil(lo) + 64) + 1)]:
        if fits(base, cmax):
            return base, cmax
    listed = ", ".join(f"{layer['name']}: {layer['out_channels']}" for layer in convs)
    raise CheckpointError(
        f"{source}: channel counts ({listed}) do not follow rint(min(channel_base / 2 / cutoff, channel_max)); "
        "this architecture is not supported"
    )


def stopband_candidates(
    layers: list[dict[str, Any]], num_critical: int, img_resolution: int, hints: tuple[float | None, float | None]
) -> Iterator[tuple[float, float]]:
    """`(first_stopband, last_stopband_rel)` pairs to try, most likely first: the recorded kwargs, the defaults,
    then values solved from the layers.

    A layer's stopband shows only where it exceeds half its sampling rate (`half_width = max(stopband, rate / 2)
    - cutoff`), i.e. in the critically sampled layers at the image's Nyquist rate; elsewhere the sampling rate
    (`2^ceil(log2(2 * stopband))`) only bounds it. The stopbands grow geometrically, `log s_i = (1 - e_i) log
    first + e_i log last`, so one visible non-critical stopband fixes `first`, and the bounds otherwise leave an
    interval whose geometric middle is as good as any (all of it gives the same network).
    """
    n = len(layers) - 1
    exponents = np.minimum(np.arange(n + 1) / max(n - num_critical, 1), 1)
    visible = [
        float(layer["out_half_width"]) + float(layer["out_cutoff"])
        if float(layer["out_half_width"]) + float(layer["out_cutoff"]) > layer["out_sampling_rate"] / 2 * (1 + 1e-12)
        else None
        for layer in layers
    ]
    first_hint, rel_hint = hints
    rels = [rel_hint, DEFAULT_STOPBANDS[1]]
    if visible[-1] is not None:
        rels.insert(1, visible[-1] / (img_resolution / 2))
    tried: set[tuple[float, float]] = set()
    for rel in [r for r in rels if r is not None and r > 0]:
        last = math.log(img_resolution / 2 * rel)
        lo, hi, solved = -math.inf, math.inf, None
        for layer, exponent, stopband in zip(layers, exponents, visible, strict=True):
            if exponent >= 1:
                continue
            if stopband is not None:
                solved = math.exp((math.log(stopband) - exponent * last) / (1 - exponent))
                break
            rate = float(layer["out_sampling_rate"])
            lo = max(lo, (math.log(rate / 4) - exponent * last) / (1 - exponent))
            hi = min(hi, (math.log(rate / 2) - exponent * last) / (1 - exponent))
        if solved is None and math.isfinite(lo) and math.isfinite(hi) and lo < hi:
            solved = math.exp((lo + hi) / 2)
        for first in (first_hint, DEFAULT_STOPBANDS[0], solved):
            if first is not None and first > 0 and (first, rel) not in tried:
                tried.add((first, rel))
                yield first, rel


def check_filter_lengths(
    config: StyleGAN3Config, tensors: dict[str, Tensor], source: str | Path, prefix: str = ""
) -> None:
    """Refuse `config` unless each layer's low-pass filters have the lengths of the stored `up_filter` /
    `down_filter` tensors (absent: one tap). Runs before building: the filters are designed in numpy, outside
    `build_strict`'s meta-device dry run, so a lying config could otherwise claim filters of any length."""
    for spec in config.layers():
        tmp = max(spec.in_sampling_rate, spec.out_sampling_rate) * (1 if spec.is_torgb else config.lrelu_upsampling)
        for kind, rate in (("up", spec.in_sampling_rate), ("down", spec.out_sampling_rate)):
            factor = int(np.rint(tmp / rate))
            taps = config.filter_size * factor if factor > 1 and not spec.is_torgb else 1
            stored = tensors.get(f"{prefix}synthesis.{spec.name}.{kind}_filter")
            length = 1 if stored is None else int(stored.shape[0]) if stored.ndim else 0
            if taps != length:
                raise CheckpointError(
                    f"{source}: layer {spec.name} has a {taps}-tap {kind}sampling filter, the file stores {length}"
                )
