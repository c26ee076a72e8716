"""Checks on what a visitor uploads before anything reads it as a model input: the file type, its size on disk
and its pixel count, each refused with one line for the page."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
PHOTO_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "MPO")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
DIRECTION_SUFFIXES = (".safetensors",)


def check_photo(path: str | Path) -> Image.Image:
    """The uploaded photo at `path` as an RGB image, or a one-line `ValueError`: not a PNG / JPEG / WebP / BMP file
    (by name and by content), larger than `MAX_UPLOAD_BYTES`, or more than `MAX_PIXELS` pixels."""
    path = Path(path)
    _check_file(path, PHOTO_SUFFIXES, "photo")
    try:
        with Image.open(path) as picture:
            if picture.format not in PHOTO_FORMATS:
                raise ValueError(f"{path.name} is a {picture.format} image; upload a PNG, JPEG, WebP or BMP photo")
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise ValueError(
                    f"{path.name} has {width}x{height} pixels, more than {MAX_PIXELS:,}; upload a smaller one"
                )
            picture.load()
            return picture.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValueError(f"{path.name} is not a readable image ({type(error).__name__})") from None


def check_direction_file(path: str | Path) -> Path:
    """An uploaded direction file: a `.safetensors` of at most `MAX_UPLOAD_BYTES` (its content is checked by the
    direction loader), or a one-line `ValueError`."""
    path = Path(path)
    _check_file(path, DIRECTION_SUFFIXES, "direction")
    return path


def _check_file(path: Path, suffixes: tuple[str, ...], what: str) -> None:
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path.name}: a {what} must be a {' / '.join(suffixes)} file")
    if not path.is_file():
        raise ValueError(f"{path.name}: the upload did not arrive; try again")
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"{path.name} is {size / 2**20:.1f} MiB; the limit is {MAX_UPLOAD_BYTES / 2**20:.0f} MiB")
    if size == 0:
        raise ValueError(f"{path.name} is empty")
