"""The CLI's input table: every kind of value a command takes, defined once as a click type, and the options that
mean the same thing in several commands, declared once with one name, one default and one help text.

`INPUT_TYPES` lists the types an option may have; the contract test refuses an option declared with anything else
and feeds each type's `BAD_VALUES` to every option of that type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from stylegan_edit.cli.common import IntRanges, Sweep

F = TypeVar("F", bound=Callable[..., Any])

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
        if self.sensible is not None and not self.sensible[0] <= number <= self.sensible[1]:
            name = param.get_error_hint(ctx) if param is not None and ctx is not None else "value"
            lo, hi = self.sensible
            click.echo(f"warning: {name} {number:g} is outside the usual range [{lo:g}, {hi:g}]", err=True)
        return number

    def _range(self) -> str:
        low = "-inf" if self.min is None else f"{self.min:g}"
        high = "inf" if self.max is None else f"{self.max:g}"
        opening = "(" if self.min_open or self.min is None else "["
        closing = ")" if self.max_open or self.max is None else "]"
        return f"{opening}{low}, {high}{closing}"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "NUMBER"


class Device(click.ParamType):
    """`auto` (CUDA when available), `cpu`, `cuda`, `cuda:N` or `mps`."""

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        if not DEVICE_PATTERN.fullmatch(text):
            self.fail(f"{value!r} is not a device (use auto, cpu, cuda, cuda:N or mps)", param, ctx)
        return text


def device_option(func: F) -> F:
    return click.option(
        "--device",
        type=Device(),
        default="auto",
        show_default=True,
        help="Where to compute: auto (CUDA when available, else the CPU), cpu, cuda, cuda:N or mps.",
    )(func)


def network_option(func: F) -> F:
    return click.option(
        "--network",
        "network_spec",
        default=None,
        metavar="NAME|PATH",
        help="Generator: a bundled name (synthfaces-64, synthfaces-toon-64) or a checkpoint (.safetensors, NVIDIA "
        ".pkl, rosinality .pt).  [default: synthfaces-64]",
    )(func)


def progress_option(func: F) -> F:
    return click.option(
        "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on the terminal."
    )(func)


def encoder_option(func: F) -> F:
    return click.option(
        "--encoder",
        "encoder_spec",
        default="psp",
        show_default=True,
        metavar="psp|e4e|PATH",
        help="Encoder: psp or e4e (the bundled one for --network), or an encoder checkpoint.",
    )(func)


def outdir_option(default: Path, what: str) -> Callable[[F], F]:
    """`--outdir DIR`, the one name for where a command writes its files."""
    return click.option(
        "--outdir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help=f"Output folder ({what}); created if missing, files of the same name in it are overwritten.",
    )


# Every type an option may be declared with (the contract test refuses others), with values it must refuse.
BAD_VALUES: dict[type[click.ParamType], tuple[str, ...]] = {
    FiniteFloat: ("nan", "inf", "-inf", "abc"),
    Sweep: ("nan", "1:inf:3", "abc", "1:2:1"),
    IntRanges: ("a-b", "3-1", "1.5"),
    Device: ("gpu7", "cuda:x"),
    click.types.IntRange: ("abc", "1.5"),
    click.types.IntParamType: ("abc", "1.5"),
    click.Choice: ("no-such-choice",),
}
INPUT_TYPES = (
    *BAD_VALUES,
    click.types.BoolParamType,
    click.Path,
    click.types.StringParamType,
)
