"""Rewriting a network checkpoint in another format as one call: native `.safetensors` or rosinality `.pt`
(NVIDIA pickles and TF pickles are read, never written: they carry code)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from stylegan_edit.formats.native import load_network, save_network
from stylegan_edit.formats.rosinality import write_rosinality

WRITABLE = ("native", "rosinality")
BY_SUFFIX = {".safetensors": "native", ".pt": "rosinality", ".pth": "rosinality"}
NATIVE_RESERVED = ("format", "format_version", "generator_config", "discriminator_config")


def destination_format(path: str | Path, to: str | None = None) -> str:
    """The format to write: `to` when given, else from the destination's extension (`.safetensors` native, `.pt`
    / `.pth` rosinality); `ValueError` for a format this package cannot write or cannot tell."""
    path = Path(path)
    if to is not None:
        if to not in WRITABLE:
            raise ValueError(f"cannot write {to!r} checkpoints (writable: {', '.join(WRITABLE)})")
        return to
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        raise ValueError(
            "writing NVIDIA pickles is not supported (they carry code); write .safetensors (native) or .pt (rosinality)"
        )
    if suffix not in BY_SUFFIX:
        raise ValueError(
            f"cannot tell the format of {path.name} from its extension; use .safetensors or .pt, or pass --to"
        )
    return BY_SUFFIX[suffix]


@dataclass(frozen=True)
class Conversion:
    """What `convert_network` wrote: the file, its format, whether it holds a discriminator, float16 or not."""

    path: Path
    format: str
    has_discriminator: bool
    half: bool


def convert_network(src: str | Path, dst: str | Path, *, to: str | None = None, half: bool = False) -> Conversion:
    """Write the network of `src` (any readable checkpoint, detected by content) to `dst` in `to` (default: from
    its extension), as float16 with `half`; native files keep `src`'s metadata.
    rosinality files hold only networks it can express (512 channels up to 32 px, skip generator, no conv_clamp)."""
    fmt = destination_format(dst, to)
    if Path(dst).resolve() == Path(src).resolve():
        raise ValueError("the destination must differ from the source")
    network = load_network(src)
    dtype = torch.float16 if half else torch.float32
    if fmt == "native":
        metadata = {k: v for k, v in network.metadata.items() if k not in NATIVE_RESERVED}
        save_network(dst, network.generator, network.discriminator, metadata=metadata, dtype=dtype)
    else:
        write_rosinality(dst, network, dtype=dtype)
    return Conversion(Path(dst), fmt, network.discriminator is not None, half)
