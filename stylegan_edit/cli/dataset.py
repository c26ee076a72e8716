"""`stylegan-edit dataset`: build training datasets, such as SynthFaces (procedural faces with exact labels)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import ensure_outdir, friendly_errors


@click.group()
def dataset() -> None:
    """Build training datasets."""


@dataset.command()
@click.option("--num", type=click.IntRange(min=1), default=1000, show_default=True, help="Number of faces to write.")
@click.option(
    "--style", type=click.Choice(["photo", "toon"]), default="photo", show_default=True, help="Rendering style."
)
@click.option("--size", type=int, default=64, show_default=True, help="Image side in pixels, a power of two (8-1024).")
@click.option("--seed-offset", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the first face.")
@click.option(
    "--outdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("synthfaces"),
    show_default=True,
    help="Output folder for the PNGs and labels.json.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@friendly_errors
def synthfaces(num: int, style: str, size: int, seed_offset: int, outdir: Path, progress: bool) -> None:
    """Write procedural faces (PNGs) with their ground-truth attributes (labels.json)."""
    from stylegan_edit.data.render import check_size
    from stylegan_edit.workflow.datasets import make_dataset

    try:
        check_size(size)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--size'") from None
    ensure_outdir(outdir)
    labels_path = make_dataset(outdir, num=num, style=style, size=size, seed_offset=seed_offset, progress=progress)
    click.echo(f"wrote {num} faces to {outdir} (labels in {labels_path.name})")
