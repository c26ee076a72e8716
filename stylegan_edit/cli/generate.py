"""`stylegan-edit generate`: images from seeds, as NVIDIA's generate.py and style_mixing.py make them (StyleGAN3:
moved and turned as gen_images.py --translate / --rotate do)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import IntRanges, friendly_errors, output_folder, pick_device
from stylegan_edit.cli.options import (
    device_option,
    network_option,
    noise_mode_option,
    outdir_option,
    rotate_option,
    seeds_option,
    translate_option,
    trunc_option,
)


@click.command()
@network_option
@seeds_option("0-7")
@trunc_option
@click.option(
    "--trunc-cutoff",
    type=click.IntRange(min=1),
    default=None,
    help="Truncate only the first N W+ layers (the coarse ones).  [default: all layers]",
)
@noise_mode_option
@translate_option
@rotate_option
@outdir_option(Path("out"), "seedNNNN.png per seed (and grid.png, stylemix.png)")
@click.option("--grid/--no-grid", default=False, show_default=True, help="Also write all images as one grid.png.")
@click.option(
    "--mix-rows",
    type=IntRanges(min_value=0),
    default=None,
    help="Style mixing (with --mix-cols): seeds giving the coarse styles, one row each, in stylemix.png.  "
    "[default: no style mixing]",
)
@click.option(
    "--mix-cols",
    type=IntRanges(min_value=0),
    default=None,
    help="Style mixing (with --mix-rows): seeds whose --mix-styles layers are copied, one column each.  "
    "[default: no style mixing]",
)
@click.option(
    "--mix-styles",
    type=IntRanges(min_value=0),
    default="0-6",
    show_default=True,
    help="Style mixing: the W+ layers taken from the column seed.",
)
@device_option
@friendly_errors
def generate(
    network_spec: str | None,
    seeds: list[int],
    truncation_psi: float,
    trunc_cutoff: int | None,
    noise_mode: str,
    translate: tuple[float, float],
    rotate: float,
    outdir: Path,
    grid: bool,
    mix_rows: list[int] | None,
    mix_cols: list[int] | None,
    mix_styles: list[int],
    device: str,
) -> None:
    """Generate images from seeds (Z drawn as NVIDIA's generate.py draws it)."""
    if (mix_rows is None) != (mix_cols is None):
        raise click.UsageError("style mixing needs both --mix-rows and --mix-cols")
    from stylegan_edit.formats.tuned import load_any_generator
    from stylegan_edit.images import make_grid, save_pil, to_pil
    from stylegan_edit.workflow.editing import generate as generate_images
    from stylegan_edit.workflow.editing import style_mix

    with output_folder(outdir):
        generator = load_any_generator(network_spec, device=pick_device(device))
        generated = generate_images(
            generator,
            seeds,
            trunc=truncation_psi,
            trunc_cutoff=trunc_cutoff,
            noise_mode=noise_mode,
            translate=translate,
            rotate=rotate,
        )
        mixed = None
        if mix_rows is not None and mix_cols is not None:
            mixed = style_mix(
                generator,
                mix_rows,
                mix_cols,
                mix_styles,
                trunc=truncation_psi,
                noise_mode=noise_mode,
                translate=translate,
                rotate=rotate,
            )
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
