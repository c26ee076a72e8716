"""Training datasets as one call: SynthFaces written to a folder of PNGs with their labels."""

from __future__ import annotations

from pathlib import Path

from stylegan_edit.data.render import STYLES, Style, check_size
from stylegan_edit.data.synthfaces import write_dataset


def make_dataset(
    outdir: str | Path,
    *,
    num: int = 1000,
    style: str = "photo",
    size: int = 64,
    seed_offset: int = 0,
    progress: bool = False,
) -> Path:
    """Write SynthFaces `seed_offset .. seed_offset + num - 1` in `style` (`photo`, `toon`) at `size` px (a power
    of two, 8-1024) as `outdir/00000000.png`, ... with `outdir/labels.json`; return the labels file's path.
    Raises `ValueError` for a bad size or style before writing anything, `OSError` when `outdir` is unwritable."""
    check_size(size)
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    chosen: Style = "toon" if style == "toon" else "photo"
    return write_dataset(outdir, num, style=chosen, size=size, seed_offset=seed_offset, progress=progress)
