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
    """Tile images (a `[N, 3, H, W]` batch in [-1, 1] or PIL images of one size) row-major into one RGB picture.

    ncols: tiles per row (default: a square-ish grid); pad: white pixels between tiles (none around the edge).
    The picture is `ncols * W + (ncols - 1) * pad` wide and `nrows * H + (nrows - 1) * pad` high; empty cells of
    the last row are white. Tiling is `torchvision.utils.make_grid`'s.
    """
    from torchvision.utils import make_grid as tile

    tiles = torch.from_numpy(to_uint8(images)) if isinstance(images, Tensor) else _stack_pil(images)
    if len(tiles) == 0:
        raise ValueError("no images to tile")
    ncols = ncols or int(np.ceil(np.sqrt(len(tiles))))
    if ncols < 1 or pad < 0:
        raise ValueError(f"a grid needs at least one column and no negative padding, got ncols={ncols}, pad={pad}")
    tiles = tiles.permute(0, 3, 1, 2)
    if tiles.shape[1] == 1:
        tiles = tiles.expand(-1, 3, -1, -1)
    if len(tiles) < ncols:  # torchvision narrows a short single row; keep every grid ncols wide
        blank = torch.full((ncols - len(tiles), *tiles.shape[1:]), 255, dtype=torch.uint8)
        tiles = torch.cat([tiles, blank])
    grid = tile(tiles, nrow=ncols, padding=pad, pad_value=255) if len(tiles) > 1 else tiles[0]
    if len(tiles) > 1 and pad:
        grid = grid[:, pad:-pad, pad:-pad]  # torchvision also pads the outer edge
    return Image.fromarray(grid.permute(1, 2, 0).contiguous().numpy())


def _stack_pil(images: Sequence[Image.Image]) -> Tensor:
    """PIL images of one size -> `[N, H, W, 3]` uint8."""
    tiles = [np.asarray(image.convert("RGB"), dtype=np.uint8) for image in images]
    if not tiles:
        return torch.zeros(0, 1, 1, 3, dtype=torch.uint8)
    sizes = {tile.shape for tile in tiles}
    if len(sizes) > 1:
        raise ValueError(f"grid tiles must share one size, got {sorted(s[1::-1] for s in sizes)}")
    return torch.from_numpy(np.stack(tiles))
