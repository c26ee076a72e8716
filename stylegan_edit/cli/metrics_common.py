"""Options and helpers shared by the `stylegan-edit metrics` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

NETWORK_HELP = "Checkpoint (any supported format) or bundled name.  [default: synthfaces-64]"


def network_option(func: Any) -> Any:
    return click.option("--network", "network_spec", default=None, help=NETWORK_HELP)(func)


def common_options(func: Any) -> Any:
    options = [
        click.option(
            "--classifier",
            "classifier_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Attribute classifier file.  [default: the bundled one]",
        ),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Sampling seed."),
        click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Batch size."),
        click.option(
            "--json",
            "json_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Also write the results to this JSON file.",
        ),
        click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars."),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def write_json(path: Path | None, document: dict[str, Any]) -> None:
    if path is None:
        return
    from stylegan_edit.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2))
    click.echo(f"wrote {path}")
