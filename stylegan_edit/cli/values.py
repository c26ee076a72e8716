"""The click types of the CLI's values: finite numbers with ranges, pairs of them, strengths, devices, power-of-two
resolutions, per-resolution alphas (with `IntRanges` and `Sweep` of `cli.common`)."""

from __future__ import annotations

import math
import re
from typing import Any

import click

from stylegan_edit.cli.common import Sweep
from stylegan_edit.workflow.checks import STRENGTH_SENSIBLE

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


class FiniteFloat(click.ParamType):
    """A finite number (nan and inf refused), optionally within `[min, max]`; outside `sensible` a warning line."""

    name = "number"

    def __init__(
        self,
        *,
        min: float | None = None,
        max: float | None = None,
        min_open: bool = False,
        max_open: bool = False,
        sensible: tuple[float, float] | None = None,
    ) -> None:
        self.min, self.max, self.min_open, self.max_open, self.sensible = min, max, min_open, max_open, sensible

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        low_bad = self.min is not None and (number < self.min or (self.min_open and number == self.min))
        high_bad = self.max is not None and (number > self.max or (self.max_open and number == self.max))
        if low_bad or high_bad:
            self.fail(f"{number:g} is not in {self._range()}", param, ctx)
        if self.sensible is not None:
            warn_outside(number, self.sensible, param, ctx)
        return number

    def _range(self) -> str:
        low = "-inf" if self.min is None else f"{self.min:g}"
        high = "inf" if self.max is None else f"{self.max:g}"
        opening = "(" if self.min_open or self.min is None else "["
        closing = ")" if self.max_open or self.max is None else "]"
        return f"{opening}{low}, {high}{closing}"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "NUMBER"


class FloatPair(click.ParamType):
    """Two finite numbers `X,Y` (e.g. a translation `0.1,-0.25`)."""

    name = "x,y"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        if len(parts) != 2:
            self.fail(f"{value!r} is not a pair X,Y of numbers (e.g. 0.1,-0.25)", param, ctx)
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            self.fail(f"{value!r} is not a pair X,Y of numbers (e.g. 0.1,-0.25)", param, ctx)
        if not (math.isfinite(x) and math.isfinite(y)):
            self.fail(f"{value!r} holds a number that is not finite", param, ctx)
        return x, y

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "X,Y"


def warn_outside(number: float, sensible: tuple[float, float], param: click.Parameter | None, ctx: Any) -> None:
    """One warning line on stderr when `number` lies outside the `sensible` range (the value is still used)."""
    lo, hi = sensible
    if not lo <= number <= hi:
        name = param.get_error_hint(ctx) if param is not None and ctx is not None else "value"
        click.echo(f"warning: {name} {number:g} is outside the usual range [{lo:g}, {hi:g}]", err=True)


class Strengths(Sweep):
    """An edit strength or a sweep `START:STOP:COUNT` (finite); a warning line beyond `STRENGTH_SENSIBLE`."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[float]:
        if isinstance(value, list):
            return value
        values = super().convert(value, param, ctx)
        warn_outside(max(values, key=abs), STRENGTH_SENSIBLE, param, ctx)
        return values


class Device(click.ParamType):
    """`auto` (CUDA when available), `cpu`, `cuda`, `cuda:N` or `mps`."""

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        if not DEVICE_PATTERN.fullmatch(text):
            self.fail(f"{value!r} is not a device (use auto, cpu, cuda, cuda:N or mps)", param, ctx)
        return text


class PowerOfTwo(click.ParamType):
    """A power of two from `min` to `max` (image sides and resolutions of synthesis blocks)."""

    name = "resolution"

    def __init__(self, *, min: int, max: int) -> None:
        self.min, self.max = min, max

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a whole number", param, ctx)
        if number < self.min or number > self.max or number & (number - 1):
            self.fail(f"{number} is not a power of two from {self.min} to {self.max}", param, ctx)
        return number

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "RES"


class ResolutionAlphas(click.ParamType):
    """`16=0.2` or `4-16=0.2` (a range of resolutions sharing one finite alpha)."""

    name = "res=alpha"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[int, float]:
        if isinstance(value, dict):
            return value
        match = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*=\s*([-+0-9.eE]+)\s*", str(value))
        if not match:
            self.fail(f"cannot parse {value!r}: use RES=ALPHA or LOW-HIGH=ALPHA, e.g. 4-16=0.2", param, ctx)
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        try:
            alpha = float(match.group(3))
        except ValueError:
            self.fail(f"cannot parse alpha in {value!r}", param, ctx)
        if not math.isfinite(alpha):
            self.fail(f"alpha in {value!r} is not a finite number", param, ctx)
        resolutions = [2**k for k in range(2, 11) if low <= 2**k <= high]
        if not resolutions:
            self.fail(f"{value!r} names no power-of-two resolution from 4 to 1024", param, ctx)
        return dict.fromkeys(resolutions, alpha)
