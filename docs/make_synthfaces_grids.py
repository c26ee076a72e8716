"""Draw docs/synthfaces_photo.png and docs/synthfaces_toon.png: 8x8 SynthFaces grids at 64 px.

Rows 1-7 show one attribute each (in `ATTRIBUTES` order) as pairs of the same face, label 0 then label 1; the last
row shows eight faces as sampled.

    python docs/make_synthfaces_grids.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PIL import Image

from stylegan_edit.data import ATTRIBUTES, FaceFactors, face_factors, render_face
from stylegan_edit.data.render import STYLES
from stylegan_edit.images import make_grid, save_pil

PAIRS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "age": ({"age": 0.15}, {"age": 0.85}),
    "smile": ({"smile": 0.2}, {"smile": 0.85}),
    "eyeglasses": ({"eyeglasses": False}, {"eyeglasses": True}),
    "yaw": ({"yaw": -0.7}, {"yaw": 0.7}),
    "hair_length": ({"hair_length": 0.2, "beard": False}, {"hair_length": 0.85, "beard": False}),
    "beard": ({"beard": False, "hair_length": 0.2}, {"beard": True, "hair_length": 0.2}),
    "eyes_open": ({"eyes_open": False}, {"eyes_open": True}),
}


def grid_faces(style: str) -> list[Image.Image]:
    """64 tiles: seven rows of attribute pairs, then one row of plain samples."""
    tiles = []
    for row, name in enumerate(ATTRIBUTES):
        for column in range(4):
            seed = 1000 + 10 * row + column
            base: FaceFactors = face_factors(seed)
            for change in PAIRS[name]:
                factors = dataclasses.replace(base, **change)
                tiles.append(render_face(factors, size=64, style=style, noise_seed=seed))  # type: ignore[arg-type]
    for seed in range(8):
        tiles.append(render_face(face_factors(seed), size=64, style=style, noise_seed=seed))  # type: ignore[arg-type]
    return tiles


def main() -> None:
    folder = Path(__file__).resolve().parent
    for style in STYLES:
        save_pil(make_grid(grid_faces(style), ncols=8, pad=2), folder / f"synthfaces_{style}.png")


if __name__ == "__main__":
    main()
