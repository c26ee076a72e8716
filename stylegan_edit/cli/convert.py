"""`stylegan-edit convert`: rewrite a network checkpoint in another format (native, rosinality)."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors

FORMATS = ("native", "rosinality", "nvidia-pkl")
_BY_SUFFIX = {".safetensors": "native", ".pt": "rosinality", ".pth": "rosinality", ".pkl": "nvidia-pkl"}


def destination_format(path: Path, to: str | None) -> str:
    """The format to write: `to` when given, else from the destination's extension."""
    if to is not None:
        return to
    if path.suffix.lower() in _BY_SUFFIX:
        return _BY_SUFFIX[path.suffix.lower()]
    raise click.UsageError(
        f"cannot tell the format of {path.name} from its extension; use .safetensors or .pt, or pass --to"
    )


@click.command()
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to",
    type=click.Choice(FORMATS),
    default=None,
    help="Destination format.  [default: from DST's extension: .safetensors native, .pt rosinality]",
)
@click.option("--half/--no-half", default=False, show_default=True, help="Store tensors as float16 (half the size).")
@friendly_errors
def convert(src: Path, dst: Path, to: str | None, half: bool) -> None:
    """Convert SRC (native .safetensors, NVIDIA .pkl or rosinality .pt, detected by content) to DST.

    NVIDIA pickles can be read but not written: they carry code. rosinality files hold only networks it can
    express (512 channels up to 32 px, skip generator, no conv_clamp).
    """
    fmt = destination_format(dst, to)
    if fmt == "nvidia-pkl":
        raise click.UsageError(
            "writing NVIDIA pickles is not supported (they carry code); write .safetensors (native) or .pt (rosinality)"
        )
    if dst.resolve() == src.resolve():
        raise click.UsageError("DST must differ from SRC")

    import torch

    from stylegan_edit.formats.native import load_network, save_network
    from stylegan_edit.formats.rosinality import write_rosinality

    network = load_network(src)
    dtype = torch.float16 if half else torch.float32
    if fmt == "native":
        reserved = {"format", "format_version", "generator_config", "discriminator_config"}
        metadata = {k: v for k, v in network.metadata.items() if k not in reserved}
        save_network(dst, network.generator, network.discriminator, metadata=metadata, dtype=dtype)
    else:
        write_rosinality(dst, network, dtype=dtype)
    parts = "generator and discriminator" if network.discriminator is not None else "generator"
    click.echo(f"wrote {dst} ({fmt}, {parts}{', float16' if half else ''})")
