"""The photo inputs of `project` and `encode`: the IMAGES argument, `--align/--no-align` (auto by default) and
`--face-index`, with the one cropping rule stated in their help; and the check that the hand-off folder takes a
file before any work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from stylegan_edit.cli.common import check_writable

F = TypeVar("F", bound=Callable[..., Any])

ALIGN_HELP = (
    "FFHQ-align the face in each photo (dlib's 68 landmarks) before inverting.  [default: auto: align a photo in "
    "which a face is found, unless the face already fills it as in an aligned crop (its FFHQ square spans at "
    "least 70% of the shorter side, centred, tilted under 10 degrees); a photo without a face is centre-cropped]. "
    "--align refuses a photo without a face; --no-align always centre-crops. A centre crop keeps the square of "
    "the shorter side (a 512x400 photo: its middle 400x400); then the picture is resized to the model's "
    "resolution. The first lines printed say what was done to each photo."
)


def photo_options(func: F) -> F:
    """IMAGES, `--align/--no-align` (None: auto) and `--face-index`."""
    options = [
        click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--align/--no-align", default=None, help=ALIGN_HELP),
        click.option(
            "--face-index",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Which face to align when a photo holds several: 0 is the largest, 1 the next, ...",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_handoff_writable() -> None:
    """Fail with one line unless the hand-off record (./.stylegan-edit/last-latents.json) can be written, checked
    before the work so a read-only current folder costs no optimisation."""
    from stylegan_edit.cli.handoff import HANDOFF_PATH

    folder = HANDOFF_PATH.parent
    if folder.exists() and not folder.is_dir():
        raise click.ClickException(f"cannot record the latents for `apply`: {folder} is not a folder")
    check_writable(folder if folder.is_dir() else Path.cwd())
