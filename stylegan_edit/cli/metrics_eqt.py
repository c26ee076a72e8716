"""`stylegan-edit metrics eqt`: translation equivariance (EQ-T) of a StyleGAN3 network."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors, pick_device
from stylegan_edit.cli.metrics_common import check_json, network_option, write_json
from stylegan_edit.cli.options import device_option
from stylegan_edit.cli.values import FiniteFloat


@click.command(name="eqt")
@network_option
@click.option(
    "--num", type=click.IntRange(min=1), default=1000, show_default=True, help="Images to render twice and compare."
)
@click.option(
    "--translate-max",
    type=FiniteFloat(min=0, max=1, min_open=True, max_open=True),
    default=0.125,
    show_default=True,
    help="Largest translation, as a fraction of the image width (NVIDIA's default).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of z and of the shifts.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Images per forward pass.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the result to this JSON file (its folder must exist).  [default: print only]",
)
@device_option
@friendly_errors
def eqt(
    network_spec: str | None,
    num: int,
    translate_max: float,
    seed: int,
    batch_size: int,
    json_path: Path | None,
    device: str,
) -> None:
    """EQ-T of a StyleGAN3 network (NVIDIA's metric): the PSNR in dB between images rendered with a translated
    input and the untranslated images shifted by the same whole number of pixels; higher is more equivariant."""
    from stylegan_edit.workflow.equivariance import eqt as measure

    check_json(json_path)
    result, name = measure(
        network_spec, num=num, translate_max=translate_max, seed=seed, batch_size=batch_size, device=pick_device(device)
    )
    click.echo(f"EQ-T {result.psnr:.2f} dB  ({name}, {num} images, translations up to {translate_max:g} of the width)")
    write_json(json_path, {"network": name, "eqt_db": result.psnr, "num": num, "translate_max": translate_max})
