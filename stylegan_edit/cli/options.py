"""The CLI's input table: every kind of value a command takes, defined once as a click type, and the options that
mean the same thing in several commands, declared once with one name, one default and one help text.

`INPUT_TYPES` lists the types an option may have; the contract test refuses an option declared with anything else
and feeds each option the values `bad_values` derives from its type (`BAD_VALUES` plus the ends of its range).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from stylegan_edit.cli.common import IntRanges, Sweep
from stylegan_edit.cli.values import (
    STRENGTH_SENSIBLE,
    Device,
    FiniteFloat,
    FloatPair,
    PowerOfTwo,
    ResolutionAlphas,
    Strengths,
)
from stylegan_edit.workflow.checks import TRUNC_RANGE

__all__ = [
    "BAD_VALUES",
    "INPUT_TYPES",
    "NETWORK_HELP",
    "STRENGTH_SENSIBLE",
    "Device",
    "FiniteFloat",
    "FloatPair",
    "PowerOfTwo",
    "ResolutionAlphas",
    "Strengths",
    "bad_values",
    "classifier_option",
    "device_option",
    "encoder_option",
    "latents_option",
    "layers_option",
    "network_option",
    "noise_mode_option",
    "outdir_option",
    "progress_option",
    "resume_folder_option",
    "rotate_option",
    "seeds_option",
    "strength_option",
    "translate_option",
    "trunc_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def device_option(func: F) -> F:
    return click.option(
        "--device",
        type=Device(),
        default="auto",
        show_default=True,
        help="Where to compute: auto (CUDA when available, else the CPU), cpu, cuda, cuda:N or mps.",
    )(func)


NETWORK_HELP = (
    "Generator: a bundled name (synthfaces-64, synthfaces-toon-64) or a checkpoint file (native .safetensors, "
    "NVIDIA .pkl, rosinality .pt)."
)


def network_option(func: F | None = None, *, default_text: str = "synthfaces-64") -> Any:
    """`--network NAME|PATH`; `@network_option` or `@network_option(default_text=...)` where the default differs."""

    def decorate(target: F) -> F:
        return click.option(
            "--network",
            "network_spec",
            default=None,
            metavar="NAME|PATH",
            help=f"{NETWORK_HELP}  [default: {default_text}]",
        )(target)

    return decorate(func) if func is not None else decorate


def progress_option(func: F) -> F:
    return click.option(
        "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on the terminal."
    )(func)


def resume_folder_option(func: F) -> F:
    """`--resume/--no-resume` of `project` / `encode` over a FOLDER (on by default, as torchrun's restarts expect)."""
    return click.option(
        "--resume/--no-resume",
        default=True,
        show_default=True,
        help="With a FOLDER: skip the images whose results --outdir holds from a run of that folder with the same "
        "options (an image is finished once its metrics.json, written last, is there and its latents.safetensors "
        "reads), so repeating an interrupted command, or torchrun restarting it, continues the run; a run with "
        "other options there is refused. --no-resume redoes every image. A folder run keeps what it finished when "
        "it fails or is interrupted. Photo files are always inverted afresh.",
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
    """`--outdir DIR`, the one name for where a command writes its files (`what`: the files it writes)."""
    return click.option(
        "--outdir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help=f"Output folder for {what}; created if missing (removed again if the command fails or is "
        "interrupted); existing files of the same name in it are overwritten.",
    )


def seeds_option(default: str, what: str = "one image per seed") -> Callable[[F], F]:
    """`--seeds 0-7,12`: seeds as NVIDIA's generate.py reads them."""
    return click.option(
        "--seeds",
        type=IntRanges(min_value=0),
        default=default,
        show_default=True,
        help=f"Seeds of the random latents ({what}): numbers and inclusive ranges, e.g. 0-7,12; seed s draws the "
        "same Z as NVIDIA's generate.py.",
    )


def layers_option(func: F) -> F:
    return click.option(
        "--layers",
        type=IntRanges(min_value=0),
        default=None,
        help="Edit only these W+ layers (0 is the coarsest), e.g. 0-5.  [default: the direction's own layers, "
        "else all]",
    )(func)


def latents_option(*, default_text: str, what: str = "the latents to edit") -> Callable[[F], F]:
    """`--latents FILE`: an existing latents file (.safetensors or NVIDIA projected_w.npz)."""
    return click.option(
        "--latents",
        "latents_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help=f"Latents file ({what}): .safetensors from this toolkit or NVIDIA's projected_w.npz.  "
        f"[default: {default_text}]",
    )


def trunc_option(func: F) -> F:
    return click.option(
        "--trunc",
        "truncation_psi",
        type=FiniteFloat(min=TRUNC_RANGE[0], max=TRUNC_RANGE[1]),
        default=1.0,
        show_default=True,
        help="Truncation psi: pull each W towards the mean W (1: none, 0: the mean face, negative: past it); "
        f"values outside [{TRUNC_RANGE[0]:g}, {TRUNC_RANGE[1]:g}] are refused.",
    )(func)


def strength_option(*, default: str | None, help: str) -> Callable[[F], F]:
    """`--strength S` or a sweep `START:STOP:COUNT`; beyond `STRENGTH_SENSIBLE` a warning line."""
    lo, hi = STRENGTH_SENSIBLE
    return click.option(
        "--strength",
        "strengths",
        type=Strengths(),
        required=default is None,
        default=default,
        show_default=default is not None,
        help=f"{help} Strengths are in W units along the unit direction; beyond [{lo:g}, {hi:g}] a warning is "
        "printed (the image leaves what the generator learnt); nan and inf are refused.",
    )


def noise_mode_option(func: F) -> F:
    return click.option(
        "--noise-mode",
        type=click.Choice(["const", "random", "none"]),
        default="const",
        show_default=True,
        help="Noise inputs when rendering: const (the network's fixed noise, reproducible), random (fresh each "
        "run) or none (zero).",
    )(func)


def translate_option(func: F) -> F:
    return click.option(
        "--translate",
        type=FloatPair(),
        default="0,0",
        show_default=True,
        help="StyleGAN3 only: move the image content by X,Y image widths (0.25,0 moves it a quarter of the width "
        "to the right), as NVIDIA's gen_images.py --translate.",
    )(func)


def rotate_option(func: F) -> F:
    return click.option(
        "--rotate",
        type=FiniteFloat(),
        default=0.0,
        show_default=True,
        help="StyleGAN3 only: rotate the image content by this many degrees (counter-clockwise), as NVIDIA's "
        "gen_images.py --rotate.",
    )(func)


def classifier_option(func: F) -> F:
    return click.option(
        "--classifier",
        "classifier_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Attribute classifier file (from `train-classifier`).  [default: the bundled one]",
    )(func)


# Every type an option may be declared with (the contract test refuses others, by exact class), with values it
# must refuse; `bad_values` adds the values just outside an option's own range.
BAD_VALUES: dict[type[click.ParamType], tuple[str, ...]] = {
    FiniteFloat: ("nan", "inf", "-inf", "abc"),
    FloatPair: ("abc", "1", "1,2,3", "nan,0", "0,inf", "1,x"),
    Sweep: ("nan", "1:inf:3", "abc", "1:2:1"),
    Strengths: ("nan", "inf", "-inf", "1:inf:3", "abc", "1:2:1"),
    IntRanges: ("a-b", "3-1", "1.5"),
    Device: ("gpu7", "cuda:x"),
    PowerOfTwo: ("abc", "33", "1.5"),
    ResolutionAlphas: ("abc", "33=0.5", "16=nan", "16=1e999"),
    click.types.IntRange: ("abc", "1.5"),
    click.Choice: ("no-such-choice",),
}
INPUT_TYPES: tuple[type[click.ParamType], ...] = (
    *BAD_VALUES,
    click.types.BoolParamType,
    click.Path,
    click.types.StringParamType,
)


def bad_values(param_type: click.ParamType) -> tuple[str, ...]:
    """The values an option of `param_type` must refuse: its kind's `BAD_VALUES` and the ends of its range."""
    values = list(BAD_VALUES.get(type(param_type), ()))
    if isinstance(param_type, (FiniteFloat, click.types.IntRange)):
        step = 1 if isinstance(param_type, click.types.IntRange) else 0.5
        if param_type.min is not None:
            values.append(str(param_type.min if param_type.min_open else param_type.min - step))
        if param_type.max is not None:
            values.append(str(param_type.max if param_type.max_open else param_type.max + step))
    if isinstance(param_type, IntRanges) and param_type.min_value is not None:
        values.append(str(param_type.min_value - 1))
    if isinstance(param_type, PowerOfTwo):
        values += [str(param_type.min // 2), str(param_type.max * 2)]
    return tuple(values)
