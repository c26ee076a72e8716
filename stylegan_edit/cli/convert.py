"""`stylegan-edit convert`: rewrite a network checkpoint in another format (native, rosinality)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import check_parent_writable, friendly_errors

FORMATS = ("native", "rosinality")  # workflow.conversion.WRITABLE, without importing torch


@click.command()
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--to",
    type=click.Choice(FORMATS),
    default=None,
    help="Destination format: native (.safetensors) or rosinality (.pt).  [default: from DST's extension]",
)
@click.option("--half/--no-half", default=False, show_default=True, help="Store tensors as float16 (half the size).")
@friendly_errors
def convert(src: Path, dst: Path, to: str | None, half: bool) -> None:
    """Convert SRC (native .safetensors, NVIDIA .pkl or rosinality .pt, detected by content) to DST (an existing
    file of that name is overwritten; its folder must exist).

    NVIDIA pickles can be read but not written: they carry code. rosinality files hold only networks it can
    express (512 channels up to 32 px, skip generator, no conv_clamp).
    """
    from stylegan_edit.workflow.conversion import convert_network, destination_format

    try:
        destination_format(dst, to)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if dst.resolve() == src.resolve():
        raise click.UsageError("DST must differ from SRC")
    check_parent_writable(dst, "DST's folder {folder} does not exist")
    written = convert_network(src, dst, to=to, half=half)
    parts = "generator and discriminator" if written.has_discriminator else "generator"
    click.echo(f"wrote {dst} ({written.format}, {parts}{', float16' if half else ''})")
