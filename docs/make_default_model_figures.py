"""Redraw the README's figures of the bundled default models after they change.

- docs/synthfaces64_samples.png, docs/synthfaces_toon64_samples.png: seeds 0-63, psi 1, constant noise, 8x8
  (what `stylegan-edit generate --seeds 0-63 --grid` writes);
- docs/blend_photo_toon.png: rows A, A<32 B>=32, A<16 B>=16, B (A = synthfaces-64, B = synthfaces-toon-64;
  `stylegan-edit blend A B --swap-res 32`), seeds 0-7 from A's mapping, tiles scaled to 96 px.

- docs/astronaut_projection.png (with --astronaut; needs scikit-image for the photo): the aligned 64 px target,
  then `stylegan-edit project` of it into w, w+ and w+ with noise (1000 steps each; the metrics lines printed are
  the README's), tiles scaled to 192 px.

docs/encoders_psp_e4e.png comes from `benchmarks/measure_defaults.sh` (its `encoders` step).

    python docs/make_default_model_figures.py [--astronaut]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

from stylegan_edit.assets import resolve_network
from stylegan_edit.editors.blend import blend_layers
from stylegan_edit.formats.native import load_generator
from stylegan_edit.generators.sampling import generate_from_seeds, z_from_seeds
from stylegan_edit.images import make_grid, save_pil, to_pil

BLEND_SEEDS = list(range(8))
BLEND_TILE = 96
ASTRONAUT_TILE = 192
ASTRONAUT_RUNS = {"w": ["--space", "w"], "w+": ["--space", "w+"], "w+ noise": ["--space", "w+", "--noise"]}


def astronaut(folder: Path) -> None:
    """Align skimage's astronaut, project it three ways with the CLI, and tile target and reconstructions."""
    from skimage import data

    with tempfile.TemporaryDirectory() as tmp:  # the CLI's outputs, and its record for `apply`, stay in there
        work = Path(tmp)
        Image.fromarray(data.astronaut()).save(work / "astronaut.png")
        subprocess.run(["stylegan-edit", "align", "astronaut.png", "--outdir", "aligned"], cwd=work, check=True)
        tiles = []
        for name, flags in ASTRONAUT_RUNS.items():
            out = name.replace(" ", "-").replace("+", "plus")
            command = ["stylegan-edit", "project", "aligned/astronaut.png", *flags, "--outdir", out]
            result = subprocess.run(command, cwd=work, check=True, capture_output=True, text=True)
            print(f"{name}: {next(line for line in result.stdout.splitlines() if line.startswith('astronaut: '))}")
            if not tiles:
                tiles.append(Image.open(work / out / "astronaut" / "target.png").convert("RGB"))
            tiles.append(Image.open(work / out / "astronaut" / "proj.png").convert("RGB"))
    tiles = [tile.resize((ASTRONAUT_TILE, ASTRONAUT_TILE), Image.Resampling.BICUBIC) for tile in tiles]
    save_pil(make_grid(tiles, ncols=len(tiles)), folder / "astronaut_projection.png")


def main() -> None:
    folder = Path(__file__).resolve().parent
    if "--astronaut" in sys.argv[1:]:
        astronaut(folder)
    photo = load_generator(resolve_network("synthfaces-64")).eval()
    toon = load_generator(resolve_network("synthfaces-toon-64")).eval()
    with torch.no_grad():
        for generator, name in ((photo, "synthfaces64_samples.png"), (toon, "synthfaces_toon64_samples.png")):
            save_pil(make_grid(generate_from_seeds(generator, list(range(64))), ncols=8), folder / name)
        w = photo.mapping(z_from_seeds(photo, BLEND_SEEDS))
        rows = [photo, blend_layers(photo, toon, 32), blend_layers(photo, toon, 16), toon]
        tiles = [
            tile.resize((BLEND_TILE, BLEND_TILE), Image.Resampling.BICUBIC)
            for model in rows
            for tile in to_pil(model.synthesis(w, noise_mode="const"))
        ]
    save_pil(make_grid(tiles, ncols=len(BLEND_SEEDS)), folder / "blend_photo_toon.png")


if __name__ == "__main__":
    main()
