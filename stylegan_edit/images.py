"""The one image convention: float tensors `[N, 3, H, W]` in [-1, 1]; conversions to and from PIL and uint8."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from stylegan_edit.files import atomic_path

MIN_IMAGE_SIDE = 8


def to_uint8(images: Tensor) -> np.ndarray:
    """`[N, C, H, W]` in [-1, 1] -> `[N, H, W, C]` uint8 by NVIDIA generate.py's rule (x*127.5+128, clamp, truncate)."""
    x = (images.detach().to(torch.float32) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def to_pil(images: Tensor) -> list[Image.Image]:
    """One PIL RGB (or L) image per batch entry."""
    arrays = to_uint8(images)
    return [Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a) for a in arrays]


def from_pil(image: Image.Image) -> Tensor:
    """PIL image -> `[1, 3, H, W]` float in [-1, 1] (any mode is converted to RGB first)."""
    array = np.asarray(_to_rgb(image), dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray((array / peak * 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def center_crop_resize(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize with LANCZOS (as NVIDIA's projector prepares targets)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image


def read_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image as RGB, raising `ValueError` with one clear line on any problem."""
    path = Path(path)
    try:
        with Image.open(path) as handle:
            handle.load()
            image = _to_rgb(handle)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: cannot decode image ({exc})") from None
    if min(image.size) < MIN_IMAGE_SIDE:
        raise ValueError(f"{path}: image is too small ({image.size[0]}x{image.size[1]})")
    return image


def load_image(path: str | Path, size: int) -> Tensor:
    """Read an image file as `[1, 3, size, size]` in [-1, 1], centre-cropped and resized."""
    return from_pil(center_crop_resize(read_image(path), size))


def save_image(image: Tensor, path: str | Path) -> None:
    """Write one image (`[3, H, W]` or `[1, 3, H, W]`) as PNG, atomically."""
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.shape[0] != 1:
        raise ValueError(f"save_image writes one image, got a batch of {image.shape[0]}")
    save_pil(to_pil(image)[0], path)


def save_pil(image: Image.Image, path: str | Path) -> None:
    """Write a PIL image atomically; the format follows the suffix of `path`."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        image.save(tmp)


def make_grid(images: Tensor | Sequence[Image.Image], ncols: int | None = None, pad: int = 0) -> Image.Image:
    """Tile images (a `[N, 3, H, W]` batch or PIL images of one size) row-major into one picture."""
    tiles = to_pil(images) if isinstance(images, Tensor) else list(images)
    if not tiles:
        raise ValueError("no images to tile")
    ncols = ncols or int(np.ceil(np.sqrt(len(tiles))))
    nrows = (len(tiles) + ncols - 1) // ncols
    w, h = tiles[0].size
    grid = Image.new("RGB", (ncols * w + (ncols - 1) * pad, nrows * h + (nrows - 1) * pad), (255, 255, 255))
    for i, tile in enumerate(tiles):
        grid.paste(tile.convert("RGB"), ((i % ncols) * (w + pad), (i // ncols) * (h + pad)))
    return grid
