"""Seeded sampling and style mixing, with NVIDIA's seed -> z convention (generate.py, style_mixing.py)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from torch import Tensor

from stylegan_edit.generators.kinds import AnyGenerator
from stylegan_edit.images import make_grid, to_pil
from stylegan_edit.latents import Latents, LatentSpace, seeds_z


def z_from_seeds(generator: AnyGenerator, seeds: Sequence[int]) -> Tensor:
    """`[len(seeds), z_dim]`: row i is `RandomState(seeds[i]).randn(1, z_dim)`."""
    return seeds_z(seeds, generator.z_dim).to(generator.device)


@torch.no_grad()
def render(
    generator: AnyGenerator,
    latents: Latents,
    noise: list[Tensor] | None = None,
    *,
    noise_mode: str = "const",
    batch_size: int = 8,
) -> Tensor:
    """Images `[N, C, H, W]` in [-1, 1], on the CPU, of Z, W or W+ latents (Z through the mapping at psi 1).

    `noise`: per-layer noise maps `[N, 1, r, r]` (a projection's optimised noise), sliced with the batches; without
    it the synthesis uses `noise_mode` (`const`, `random` or `none`).
    """
    out = []
    for start in range(0, len(latents), batch_size):
        batch = latents[start : start + batch_size].to(generator.device)
        if batch.space is LatentSpace.Z:
            ws = generator.mapping(batch.tensor, truncation_psi=1.0)
        else:
            ws = batch.to_w_plus(generator.num_ws).tensor
        maps = [n[start : start + batch_size].to(generator.device) for n in noise] if noise else None
        out.append(generator.synthesis(ws, noise=maps, noise_mode=noise_mode).cpu())
    return torch.cat(out)


@torch.no_grad()
def ws_from_seeds(
    generator: AnyGenerator,
    seeds: Sequence[int],
    *,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    batch_size: int = 256,
) -> Tensor:
    """W+ codes `[len(seeds), num_ws, w_dim]` on the CPU: the mapping (with truncation) of `z_from_seeds`."""
    out = []
    for start in range(0, len(seeds), batch_size):
        z = z_from_seeds(generator, seeds[start : start + batch_size])
        out.append(generator.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff).cpu())
    if not out:
        raise ValueError("no seeds to generate from")
    return torch.cat(out)


def generate_from_seeds(
    generator: AnyGenerator,
    seeds: Sequence[int],
    *,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    noise_mode: str = "const",
    batch_size: int = 8,
) -> Tensor:
    """Images `[len(seeds), C, H, W]` in [-1, 1], rendered in batches."""
    ws = ws_from_seeds(generator, seeds, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
    return render(generator, Latents(ws, LatentSpace.W_PLUS), noise_mode=noise_mode, batch_size=batch_size)


@torch.no_grad()
def style_mix_grid(
    generator: AnyGenerator,
    row_seeds: Sequence[int],
    col_seeds: Sequence[int],
    styles: Sequence[int],
    *,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
) -> Image.Image:
    """NVIDIA's style-mixing figure: row images take the `styles` layers of each column seed.

    The first row shows the column seeds, the first column the row seeds; the corner is blank. Raises a one-line
    `ValueError` when a seed list is empty or a style index is not one of the generator's W+ layers.
    """
    if not row_seeds or not col_seeds or not styles:
        raise ValueError("style mixing needs row seeds, column seeds and style layers")
    if min(styles) < 0 or max(styles) >= generator.num_ws:
        raise ValueError(f"style layers go up to {max(styles)}, but the generator has {generator.num_ws} layers")
    all_seeds = list(dict.fromkeys([*row_seeds, *col_seeds]))
    ws = generator.mapping(z_from_seeds(generator, all_seeds), truncation_psi=truncation_psi)
    w_of = dict(zip(all_seeds, ws, strict=True))
    plain = {s: img for s, img in zip(all_seeds, to_pil(generator.synthesis(ws, noise_mode=noise_mode)), strict=True)}
    tiles: list[Image.Image] = [Image.new("RGB", plain[all_seeds[0]].size, (255, 255, 255))]
    tiles += [plain[s] for s in col_seeds]
    for row in row_seeds:
        tiles.append(plain[row])
        mixed = torch.stack([w_of[row].clone() for _ in col_seeds])
        for i, col in enumerate(col_seeds):
            mixed[i, list(styles)] = w_of[col][list(styles)]
        tiles += to_pil(generator.synthesis(mixed, noise_mode=noise_mode))
    return make_grid(tiles, ncols=len(col_seeds) + 1)
