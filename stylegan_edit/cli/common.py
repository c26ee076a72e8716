"""Option types and error handling shared by every stylegan-edit command."""

from __future__ import annotations

import contextlib
import functools
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def parse_int_ranges(text: str) -> list[int]:
    """`'0-3,7'` -> `[0, 1, 2, 3, 7]` (inclusive ranges, as NVIDIA's generate.py parses seeds)."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(-?\d+)(?:-(-?\d+))?", part)
        if not match:
            raise ValueError(f"cannot parse {part!r} in {text!r}: use numbers and ranges like 0-7,12")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"range {part!r} runs backwards")
        values.extend(range(lo, hi + 1))
    return values


class IntRanges(click.ParamType):
    """A click type for lists like `0-7,12`."""

    name = "ranges"

    def __init__(self, *, min_value: int | None = None) -> None:
        self.min_value = min_value

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[int]:
        if isinstance(value, list):
            return value
        try:
            values = parse_int_ranges(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if self.min_value is not None and any(v < self.min_value for v in values):
            self.fail(f"values must be at least {self.min_value}, got {value!r}", param, ctx)
        return values


def parse_sweep(text: str) -> list[float]:
    """`'2'` -> `[2.0]`; `'-3:3:7'` -> 7 evenly spaced strengths from -3 to 3 (finite numbers only)."""
    usage = "use a number like 2 or a sweep START:STOP:COUNT like -3:3:7"
    parts = text.split(":")
    try:
        values = [float(p) for p in parts[:2]]
        num = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise ValueError(f"cannot parse strength {text!r}: {usage}") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"strength {text!r} is not a finite number: {usage}")
    if len(parts) == 1:
        return values
    if len(parts) != 3 or num < 2:
        raise ValueError(f"cannot parse strength {text!r}: {usage}")
    lo, hi = values
    return [lo + (hi - lo) * i / (num - 1) for i in range(num)]


class Sweep(click.ParamType):
    """A click type for a strength or a sweep `START:STOP:COUNT`."""

    name = "strength"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[float]:
        if isinstance(value, list):
            return value
        try:
            return parse_sweep(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Interrupted(click.ClickException):
    """Ctrl-C or SIGTERM during a command that keeps what it did (a training run's saved state): one line, exit 130."""

    exit_code = 130

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def friendly_errors(func: F) -> F:
    """Turn library errors (bad files, shapes, values) into one-line click errors, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except (ValueError, OSError, KeyError) as exc:
            message = str(exc) if not isinstance(exc, KeyError) else f"missing entry {exc}"
            raise click.ClickException(message.splitlines()[0] if message else type(exc).__name__) from None

    return wrapper  # type: ignore[return-value]


def ensure_outdir(path: Path) -> Path:
    """Create an output folder and check that it takes files, or fail with one line naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create output folder {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise click.ClickException(f"output path {path} is not a folder")
    check_writable(path)
    return path


def check_parent_writable(path: Path, missing: str) -> None:
    """Before the work: fail with one line unless the folder of `path` exists (`missing` formats the message with
    `{folder}`) and takes files."""
    folder = path.parent
    if not folder.is_dir():
        raise click.UsageError(missing.format(folder=folder))
    check_writable(folder)


def check_writable(folder: Path) -> None:
    """Fail with one line unless a file can be created in `folder` (checked before any work starts)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise click.ClickException(f"cannot write to {folder}: {exc.strerror}") from None


@contextlib.contextmanager
def output_folder(path: Path) -> Iterator[Path]:
    """The folder a command writes to: created (with missing parents) and checked before the work; when the
    command fails or is interrupted, the folders it created are removed again, so nothing half-done is left.
    Files already in an existing folder stay; files of the same name are replaced (each write is atomic)."""
    created = path
    while not created.parent.exists() and created.parent != created:
        created = created.parent
    fresh = not path.exists()
    ensure_outdir(path)
    try:
        yield path
    except BaseException:
        if fresh:
            shutil.rmtree(created, ignore_errors=True)
        raise


def pick_device(name: str) -> str:
    """`auto` -> `cuda` when available, else `cpu`."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
