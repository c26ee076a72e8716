"""Rendering edited latents, and the preview grids: a strength sweep of one direction, or the top components."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from stylegan_edit.editors.direction import Direction
from stylegan_edit.editors.edit import make_edit
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.generators.sampling import render
from stylegan_edit.images import make_grid, to_pil
from stylegan_edit.latents import Latents, LatentSpace


@torch.no_grad()
def sweep(
    latents: Latents,
    direction: Direction,
    strengths: Sequence[float],
    *,
    layers: Sequence[int] | None = None,
    num_ws: int | None = None,
) -> Latents:
    """Every latent edited at every strength (`make_edit`: added, or set along an axis), latent-major: row
    `i * len(strengths) + j` is latent i at strength j."""
    edits = [make_edit(direction, s, layers)(latents, num_ws=num_ws) for s in strengths]
    if not edits:
        raise ValueError("no strengths to sweep")
    stacked = torch.stack([edit.tensor for edit in edits], dim=1)
    return Latents(stacked.reshape(-1, *stacked.shape[2:]), edits[0].space)


def sweep_grid(
    generator: AnyGenerator,
    latents: Latents,
    direction: Direction,
    strengths: Sequence[float],
    *,
    layers: Sequence[int] | None = None,
    noise_mode: str = "const",
) -> Image.Image:
    """One row per latent, one column per strength."""
    edited = sweep(latents, direction, strengths, layers=layers, num_ws=generator.num_ws)
    return make_grid(to_pil(render(generator, edited, noise_mode=noise_mode)), ncols=len(strengths))


def components_grid(
    generator: AnyGenerator,
    latent: Latents,
    directions: Sequence[Direction],
    sigmas: Sequence[float] = (-2.0, -1.0, 0.0, 1.0, 2.0),
    *,
    noise_mode: str = "const",
) -> Image.Image:
    """GANSpace's preview: one row per component, columns at `sigmas` times the component's std (1 when unknown).

    latent: one code (`[1, ...]`) that every row starts from.
    """
    if len(latent) != 1:
        raise ValueError(f"the preview starts from one latent, got {len(latent)}")
    rows = []
    for direction in directions:
        std = direction.statistics.get("std", 1.0)
        edited = sweep(latent, direction, [s * std for s in sigmas], num_ws=generator.num_ws)
        rows.append(edited.to_w_plus(generator.num_ws).tensor if edited.space is not LatentSpace.Z else edited.tensor)
    space = LatentSpace.Z if rows and latent.space is LatentSpace.Z else LatentSpace.W_PLUS
    images = render(generator, Latents(torch.cat(rows), space), noise_mode=noise_mode)
    return make_grid(to_pil(images), ncols=len(sigmas))
