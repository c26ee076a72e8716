"""`stylegan-edit dataset`: build training datasets, such as SynthFaces (procedural faces with exact labels)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors, output_folder
from stylegan_edit.cli.options import PowerOfTwo, outdir_option, progress_option


@click.group()
def dataset() -> None:
    """Build training datasets."""


@dataset.command()
@click.option("--num", type=click.IntRange(min=1), default=1000, show_default=True, help="Number of faces to write.")
@click.option(
    "--style",
    type=click.Choice(["photo", "toon"]),
    default="photo",
    show_default=True,
    help="Rendering style: photo (shaded, textured) or toon (flat colours, outlines).",
)
@click.option("--size", type=PowerOfTwo(min=8, max=1024), default=64, show_default=True, help="Image side in pixels.")
@click.option("--seed-offset", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the first face.")
@outdir_option(Path("synthfaces"), "the faces (NNNNNNNN.png) and their attributes, labels.json")
@progress_option
@friendly_errors
def synthfaces(num: int, style: str, size: int, seed_offset: int, outdir: Path, progress: bool) -> None:
    """Write procedural faces (PNGs) with their ground-truth attributes (labels.json)."""
    from stylegan_edit.workflow.datasets import make_dataset

    with output_folder(outdir):
        labels_path = make_dataset(outdir, num=num, style=style, size=size, seed_offset=seed_offset, progress=progress)
    click.echo(f"wrote {num} faces to {outdir} (labels in {labels_path.name})")
