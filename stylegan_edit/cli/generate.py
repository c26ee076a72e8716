"""`stylegan-edit generate`: images from seeds, as NVIDIA's generate.py and style_mixing.py make them."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import IntRanges, ensure_outdir, friendly_errors, pick_device


@click.command()
@click.option(
    "--network",
    "network_spec",
    default=None,
    help="Checkpoint (any supported format) or bundled name.  [default: synthfaces-64]",
)
@click.option("--seeds", type=IntRanges(min_value=0), default="0-7", show_default=True, help="Seeds, e.g. 0-7,12.")
@click.option("--trunc", "truncation_psi", type=float, default=1.0, show_default=True, help="Truncation psi.")
@click.option(
    "--trunc-cutoff", type=click.IntRange(min=1), default=None, help="Truncate only the first N layers.  [default: all]"
)
@click.option(
    "--noise-mode",
    type=click.Choice(["const", "random", "none"]),
    default="const",
    show_default=True,
    help="Noise inputs.",
)
@click.option(
    "--outdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Output folder.",
)
@click.option("--grid/--no-grid", default=False, show_default=True, help="Also write all images as one grid.png.")
@click.option(
    "--mix-rows", type=IntRanges(min_value=0), default=None, help="Style mixing: seeds giving the coarse styles (rows)."
)
@click.option(
    "--mix-cols",
    type=IntRanges(min_value=0),
    default=None,
    help="Style mixing: seeds giving the copied styles (columns).",
)
@click.option(
    "--mix-styles",
    type=IntRanges(min_value=0),
    default="0-6",
    show_default=True,
    help="Style mixing: W+ layers taken from the column seed.",
)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
@friendly_errors
def generate(
    network_spec: str | None,
    seeds: list[int],
    truncation_psi: float,
    trunc_cutoff: int | None,
    noise_mode: str,
    outdir: Path,
    grid: bool,
    mix_rows: list[int] | None,
    mix_cols: list[int] | None,
    mix_styles: list[int],
    device: str,
) -> None:
    """Generate images from seeds (z drawn as NVIDIA's generate.py draws it)."""
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.images import make_grid, save_pil, to_pil
    from stylegan_edit.workflow.editing import generate as generate_images
    from stylegan_edit.workflow.editing import style_mix

    if (mix_rows is None) != (mix_cols is None):
        raise click.UsageError("style mixing needs both --mix-rows and --mix-cols")
    generator = load_generator(network_spec, device=pick_device(device))
    generated = generate_images(
        generator, seeds, trunc=truncation_psi, trunc_cutoff=trunc_cutoff, noise_mode=noise_mode
    )
    mixed = None
    if mix_rows is not None and mix_cols is not None:
        mixed = style_mix(generator, mix_rows, mix_cols, mix_styles, trunc=truncation_psi, noise_mode=noise_mode)
    ensure_outdir(outdir)
    pictures = to_pil(generated.images)
    for seed, picture in zip(generated.seeds, pictures, strict=True):
        save_pil(picture, outdir / f"seed{seed:04d}.png")
    click.echo(f"wrote {len(seeds)} image{'' if len(seeds) == 1 else 's'} to {outdir}")
    if grid:
        save_pil(make_grid(pictures), outdir / "grid.png")
        click.echo(f"wrote {outdir / 'grid.png'}")
    if mixed is not None:
        save_pil(mixed, outdir / "stylemix.png")
        click.echo(f"wrote {outdir / 'stylemix.png'}")
