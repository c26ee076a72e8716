"""Editing latents along directions, rendering them, and generating from seeds: what `apply`, `generate` and
`directions show` do, as calls; StyleGAN3 renders (arXiv:2106.12423) may translate and rotate the Fourier input as
NVIDIA's gen_images.py does. Mixing two generators (`blend`, `interpolate`) lives in `workflow.mixing`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from stylegan_edit.editors import preview
from stylegan_edit.editors.direction import Direction, load_direction
from stylegan_edit.editors.edit import check_layers
from stylegan_edit.editors.interfacegan import conditional_direction
from stylegan_edit.generators import AnyGenerator, Generator, sampling
from stylegan_edit.generators.mapping import truncate as truncate_ws
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.workflow.checks import STRENGTH_SENSIBLE, TRUNC_RANGE, at_least, finite, one_of, seeds_list

__all__ = [
    "Generated",
    "edit",
    "generate",
    "render",
    "resolve_direction",
    "style_mix",
    "sweep",
    "sweep_grid",
    "transformed",
]

DirectionSpec = Direction | str | Path
NOISE_MODES = ("const", "random", "none")


@dataclass(frozen=True, eq=False)
class Generated:
    """Images made from seeds.

    latents: the W+ codes `[N, num_ws, w_dim]` after truncation, exactly what was rendered (so `render` of them
    reproduces `images`, and `edit` can start from them); z: the seeds' codes `[N, z_dim]` (NVIDIA's rule);
    images: `[N, 3, H, W]` in [-1, 1] on the CPU; seeds: one per row.
    """

    latents: Latents
    z: Tensor
    images: Tensor
    seeds: tuple[int, ...]


def edit(
    latents: Latents,
    direction: DirectionSpec,
    strength: float,
    *,
    layers: Sequence[int] | None = None,
    conditions: Sequence[DirectionSpec] = (),
    generator: AnyGenerator | None = None,
) -> Latents:
    """`latents + strength * direction`, on `layers` only when given (else the direction's layers, else all).

    direction, conditions: `Direction`s, or names / paths resolved by `load_direction` (bundled names, files,
    names in ./directions, community files: InterFaceGAN `.npy`, e4e `.pt`, `FILE#k` for component k of e4e's
    `ffhq_pca.pt` or a GANSpace `.npz`). An axis (e4e's GANSpace component) is not added but sets each latent's
    coordinate along it to `strength` (`editors.edit.ComponentEdit`). conditions: InterFaceGAN's conditional
    editing, their directions projected out. generator: checks that the directions belong to it, maps Z
    latents to W for a W direction, and gives the W+ layer count. Returns Z `[N, z_dim]`, W `[N, w_dim]` or W+
    `[N, num_ws, w_dim]` latents (W+ when the edit is restricted to layers); strength 0 returns the input
    values, except along an axis.
    """
    return sweep(latents, direction, [strength], layers=layers, conditions=conditions, generator=generator)


def sweep(
    latents: Latents,
    direction: DirectionSpec,
    strengths: Sequence[float],
    *,
    layers: Sequence[int] | None = None,
    conditions: Sequence[DirectionSpec] = (),
    generator: AnyGenerator | None = None,
) -> Latents:
    """Every latent edited at every strength (see `edit`), latent-major: row `i * len(strengths) + j` is latent
    i at strength j."""
    if len(strengths) == 0:
        raise ValueError("no edit strengths given")
    for strength in strengths:
        finite("edit strength", strength, sensible=STRENGTH_SENSIBLE)
    resolved = resolve_direction(direction, conditions=conditions, generator=generator)
    num_ws = None
    if generator is not None:
        num_ws = generator.num_ws
        if layers is not None:
            check_layers(layers, num_ws)
        latents = _to_direction_space(latents, resolved, generator)
    return preview.sweep(latents, resolved, strengths, layers=layers, num_ws=num_ws)


def sweep_grid(
    generator: AnyGenerator,
    seeds: Sequence[int],
    direction: DirectionSpec,
    strengths: Sequence[float],
    *,
    layers: Sequence[int] | None = None,
    noise_mode: str = "const",
) -> Image.Image:
    """A direction's preview (`directions show`): one row per seed (z by NVIDIA's rule, in the direction's
    space: z, or its w at psi 1), one column per strength."""
    seeds = seeds_list(seeds)
    one_of("noise_mode", noise_mode, NOISE_MODES)
    for strength in strengths:
        finite("edit strength", strength)
    resolved = resolve_direction(direction, generator=generator)
    with torch.no_grad():
        z = sampling.z_from_seeds(generator, seeds)
        if resolved.space is LatentSpace.Z:
            start = Latents(z.cpu(), LatentSpace.Z)
        else:
            start = Latents(generator.mapping(z)[:, 0].cpu(), LatentSpace.W)
    if layers is not None:
        check_layers(layers, generator.num_ws)
    return preview.sweep_grid(generator, start, resolved, strengths, layers=layers, noise_mode=noise_mode)


def render(
    generator: AnyGenerator,
    latents: Latents,
    *,
    noise_mode: str = "const",
    translate: tuple[float, float] = (0.0, 0.0),
    rotate: float = 0.0,
) -> Tensor:
    """Images `[N, 3, H, W]` in [-1, 1] on the CPU of Z, W or W+ latents (Z through the mapping at psi 1);
    translate / rotate: StyleGAN3 only, see `transformed`."""
    one_of("noise_mode", noise_mode, NOISE_MODES)
    if not isinstance(latents, Latents):
        raise ValueError(f"latents must be a Latents (a tensor with its space), got {type(latents).__name__}")
    with transformed(generator, translate, rotate):
        return sampling.render(generator, latents, noise_mode=noise_mode)


@contextmanager
def transformed(
    generator: AnyGenerator, translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0
) -> Iterator[AnyGenerator]:
    """`generator` rendering with its Fourier input translated by `translate` (x, y in image widths: (0.25, 0) moves
    the content a quarter of the width to the right) and rotated by `rotate` degrees (counter-clockwise), as
    NVIDIA's gen_images.py `--translate` / `--rotate` set StyleGAN3's input transform; the generator's own transform
    is restored on exit, also after an error, so a shared generator is left as it was. (0, 0) and 0 change nothing.
    Raises a one-line `ValueError` for non-finite values, or for a non-zero transform of a StyleGAN2 network (its
    input is a learned constant)."""
    if len(translate) != 2:
        raise ValueError(f"translate must be a pair (x, y), got {translate!r}")
    x, y = (finite(f"translate {axis}", value) for axis, value in zip("xy", translate, strict=True))
    angle = finite("rotate", rotate)
    if (x, y, angle) == (0.0, 0.0, 0.0):
        yield generator
        return
    if isinstance(generator, Generator):
        raise ValueError(
            "translate and rotate move StyleGAN3's Fourier input; this StyleGAN2 network starts from a learned "
            "constant, which cannot be moved"
        )
    with generator.transformed(translate=(x, y), rotate=angle):
        yield generator


def truncate(generator: AnyGenerator, latents: Latents, psi: float, *, cutoff: int | None = None) -> Latents:
    """W or W+ latents pulled towards the generator's mean W by truncation psi (finite, in [-1, 2]; 1 leaves them
    as they are) on the first `cutoff` layers (None: all), as W+ `[N, num_ws, w_dim]` (NVIDIA's `lerp`)."""
    psi = finite("truncation psi", psi, min=TRUNC_RANGE[0], max=TRUNC_RANGE[1])
    if latents.space is LatentSpace.Z:
        raise ValueError("truncation applies to W or W+ latents; map z latents first")
    ws = latents.to_w_plus(generator.num_ws).tensor
    w_avg = generator.mapping.w_avg.detach().to(ws.device, ws.dtype)
    return Latents(truncate_ws(ws, w_avg, psi, cutoff), LatentSpace.W_PLUS)


def generate(
    generator: AnyGenerator,
    seeds: Sequence[int],
    *,
    trunc: float = 1.0,
    trunc_cutoff: int | None = None,
    noise_mode: str = "const",
    translate: tuple[float, float] = (0.0, 0.0),
    rotate: float = 0.0,
) -> Generated:
    """Images from seeds as NVIDIA's generate.py makes them: z of seed s is `RandomState(s).randn(1, z_dim)`,
    mapped with truncation psi `trunc` (finite, in [-1, 2]) on the first `trunc_cutoff` layers (None: all), then
    synthesised. seeds: whole numbers in [0, 2**32 - 1]. translate (image widths) / rotate (degrees): StyleGAN3's
    input transform for these images (see `transformed`; refused for StyleGAN2)."""
    seeds = seeds_list(seeds)
    trunc = finite("truncation psi", trunc, min=TRUNC_RANGE[0], max=TRUNC_RANGE[1])
    if trunc_cutoff is not None:
        at_least("trunc_cutoff", trunc_cutoff, 1)
    one_of("noise_mode", noise_mode, NOISE_MODES)
    with transformed(generator, translate, rotate):  # checked before any work
        ws = sampling.ws_from_seeds(generator, seeds, truncation_psi=trunc, truncation_cutoff=trunc_cutoff)
        latents = Latents(ws, LatentSpace.W_PLUS)
        z = sampling.z_from_seeds(generator, seeds).cpu()
        images = render(generator, latents, noise_mode=noise_mode)
    return Generated(latents, z, images, tuple(int(s) for s in seeds))


def style_mix(
    generator: AnyGenerator,
    row_seeds: Sequence[int],
    col_seeds: Sequence[int],
    styles: Sequence[int],
    *,
    trunc: float = 1.0,
    noise_mode: str = "const",
    translate: tuple[float, float] = (0.0, 0.0),
    rotate: float = 0.0,
) -> Image.Image:
    """NVIDIA's style-mixing figure: each row seed's image with the `styles` W+ layers of each column seed
    (translate / rotate: StyleGAN3's input transform, see `transformed`)."""
    row_seeds, col_seeds = seeds_list(row_seeds), seeds_list(col_seeds)
    trunc = finite("truncation psi", trunc, min=TRUNC_RANGE[0], max=TRUNC_RANGE[1])
    one_of("noise_mode", noise_mode, NOISE_MODES)
    with transformed(generator, translate, rotate):
        return sampling.style_mix_grid(
            generator, row_seeds, col_seeds, styles, truncation_psi=trunc, noise_mode=noise_mode
        )


def resolve_direction(
    direction: DirectionSpec, *, conditions: Sequence[DirectionSpec] = (), generator: AnyGenerator | None = None
) -> Direction:
    """A direction from a `Direction`, bundled name, file or name in ./directions, with `conditions` projected out
    (InterFaceGAN's conditional editing); with `generator`, checked to fit it (see `Direction.check_generator`)."""
    resolved = _load(direction, generator)
    if conditions:
        resolved = conditional_direction(resolved, [_load(c, generator) for c in conditions])
    return resolved


def _load(spec: DirectionSpec, generator: AnyGenerator | None) -> Direction:
    if isinstance(spec, Direction):
        if generator is not None:
            spec.check_generator(generator)
        return spec
    return load_direction(spec, generator=generator)


def _to_direction_space(latents: Latents, direction: Direction, generator: AnyGenerator) -> Latents:
    if latents.space is LatentSpace.Z and direction.space is not LatentSpace.Z:
        with torch.no_grad():
            w = generator.mapping(latents.tensor.to(generator.device))[:, 0].cpu()
        return Latents(w, LatentSpace.W)
    if latents.space is not LatentSpace.Z and latents.dim != generator.w_dim:
        raise ValueError(f"the latents are {latents.dim}-d, but this generator has w_dim {generator.w_dim}")
    return latents
