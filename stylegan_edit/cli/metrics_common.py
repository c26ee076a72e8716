"""Options and helpers shared by the `stylegan-edit metrics` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stylegan_edit.cli.common import check_parent_writable
from stylegan_edit.cli.options import classifier_option, device_option, network_option, progress_option

__all__ = ["check_json", "common_options", "network_option", "write_json"]


def common_options(func: Any) -> Any:
    options = [
        classifier_option,
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Seed of the sampled latents (and of fresh real renders).",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=64,
            show_default=True,
            help="Images per forward pass (memory, not results).",
        ),
        click.option(
            "--json",
            "json_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Also write the results to this JSON file (its folder must exist; an existing file is "
            "overwritten).  [default: print only]",
        ),
        progress_option,
        device_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_json(path: Path | None) -> None:
    """Before the work: fail with one line unless the `--json` file can be written."""
    if path is None:
        return
    check_parent_writable(path, "--json: folder {folder} does not exist")


def write_json(path: Path | None, document: dict[str, Any]) -> None:
    if path is None:
        return
    from stylegan_edit.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2))
    click.echo(f"wrote {path}")
