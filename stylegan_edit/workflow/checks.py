"""Argument checks the workflow functions share: finite numbers, ranges, counts and choices, each refused with
one `ValueError` line naming the argument and the value given."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence

logger = logging.getLogger(__name__)

STRENGTH_SENSIBLE = (-10.0, 10.0)  # W units along a unit direction: beyond, a warning
TRUNC_RANGE = (-1.0, 2.0)  # truncation psi beyond this leaves the images the generator learnt: refused


def finite(
    name: str,
    value: float,
    *,
    min: float | None = None,
    max: float | None = None,
    sensible: tuple[float, float] | None = None,
) -> float:
    """`value` as a float when it is a finite number in `[min, max]`; outside `sensible`, a logged warning."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}")
    if (min is not None and number < min) or (max is not None and number > max):
        low = "-inf" if min is None else f"{min:g}"
        high = "inf" if max is None else f"{max:g}"
        raise ValueError(f"{name} must be in [{low}, {high}], got {number:g}")
    if sensible is not None and not sensible[0] <= number <= sensible[1]:
        logger.warning("%s %g is outside the usual range [%g, %g]", name, number, *sensible)
    return number


def at_least(name: str, value: int, low: int) -> int:
    """`value` when it is a whole number of at least `low`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


def one_of(name: str, value: object, choices: Iterable[object]) -> None:
    """Refuse `value` unless it is one of `choices`."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(str, options))}, got {value!r}")


def seeds_list(values: Sequence[int]) -> list[int]:
    """Seeds for NVIDIA's `RandomState(seed)` rule: at least one, each a whole number in [0, 2**32 - 1]."""
    if isinstance(values, int | str):
        raise ValueError(f"seeds must be a sequence of whole numbers, got {values!r}")
    if len(values) == 0:
        raise ValueError("no seeds given")
    for seed in values:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise ValueError(f"seeds must be whole numbers in [0, 4294967295], got {seed!r}")
    return [int(seed) for seed in values]
