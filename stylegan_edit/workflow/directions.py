"""Finding directions (what `directions fit` does): which samples, how many, the labels and the finder, as calls;
and GANSpace's preview of the components found.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from torch import Tensor

from stylegan_edit.editors.direction import Direction
from stylegan_edit.editors.edit import check_layers
from stylegan_edit.editors.ganspace import GANSpace
from stylegan_edit.editors.interfacegan import InterFaceGAN
from stylegan_edit.editors.preview import components_grid
from stylegan_edit.editors.sampling import attribute_scorer, load_scores, sample_and_score, sample_latents
from stylegan_edit.editors.sefa import SeFa
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace, load_latents

METHODS = ("interfacegan", "ganspace", "sefa")
PREVIEW_COMPONENTS = 5


def fit_direction(
    generator: AnyGenerator,
    method: str,
    *,
    name: str | None = None,
    attributes: Sequence[str] = (),
    scores: Tensor | str | Path | None = None,
    latents: Latents | str | Path | None = None,
    space: LatentSpace | str = LatentSpace.W,
    extreme_fraction: float = 0.02,
    num_samples: int = 10_000,
    components: int | None = None,
    layers: Sequence[int] | None = None,
    include_torgb: bool = False,
    seed: int = 0,
) -> list[Direction]:
    """Directions of `generator` found by `method`: `interfacegan`, `ganspace` or `sefa`.

    interfacegan: one direction per attribute, the SVM normal between the `extreme_fraction` most and least
        scored samples; the labels are either the bundled classifier's logits of `attributes` on `num_samples`
        images drawn from `seed` (latents in `space`, z or w), or `scores` (`[N]`/`[N, K]`, or a .npy/.csv file)
        of given `latents` (z or w codes, or their file). Named after the attributes (or score columns).
    ganspace: PCA of `num_samples` w codes drawn from `seed`; `components` directions (default 10) for `layers`.
    sefa: the eigenvectors of the stacked modulation weights of `layers` (and their torgb with `include_torgb`);
        `components` directions (default 5).
    name: the direction's name (interfacegan, one attribute), a prefix (`name_<attribute>`), or for ganspace /
        sefa a prefix numbered from 0 (default names: the attribute, `pc0`..., `sefa0`...).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if method != "interfacegan" and (attributes or scores is not None or latents is not None):
        raise ValueError("attributes, scores and latents apply to the interfacegan method only")
    if layers is not None:
        check_layers(layers, generator.num_ws)
    if method == "interfacegan":
        return _interfacegan(
            generator, name, attributes, scores, latents, LatentSpace(space), extreme_fraction, num_samples, seed
        )
    if method == "ganspace":
        samples = sample_latents(generator, num_samples, space=LatentSpace.W, seed=seed)
        ganspace = GANSpace(layers=layers, random_state=seed)
        ganspace.n_components = components or ganspace.n_components  # None: the finder's own default
        found = ganspace.fit(samples, generator=generator).directions_
    else:
        sefa = SeFa(layers=layers, include_torgb=include_torgb)
        sefa.n_components = components or sefa.n_components
        found = sefa.fit(generator).directions_
    return found if name is None else [d.renamed(f"{name}{i}") for i, d in enumerate(found)]


def components_preview(generator: AnyGenerator, directions: Sequence[Direction], *, seed: int = 0) -> Image.Image:
    """GANSpace's figure: the first five components (rows) at -2..2 std (columns), from one w drawn from `seed`."""
    start = sample_latents(generator, 1, space=LatentSpace.W, seed=seed)
    return components_grid(generator, start, list(directions)[:PREVIEW_COMPONENTS])


def _interfacegan(
    generator: AnyGenerator,
    name: str | None,
    attributes: Sequence[str],
    scores: Tensor | str | Path | None,
    latents: Latents | str | Path | None,
    space: LatentSpace,
    extreme_fraction: float,
    num_samples: int,
    seed: int,
) -> list[Direction]:
    if bool(attributes) == (scores is not None):
        raise ValueError("interfacegan needs either attributes to score or scores with their latents")
    if scores is not None:
        if latents is None:
            raise ValueError("scores need their latents: the latents whose images were scored")
        codes = _latents(latents, generator)
        if isinstance(scores, Tensor):
            values, names = _scores_tensor(scores, len(codes))
        else:
            values, names = load_scores(scores, num_latents=len(codes))
    else:
        scorer = attribute_scorer(attributes, device=generator.device)
        samples = sample_and_score(generator, scorer, num_samples, space=space, seed=seed, names=attributes)
        codes, values, names = samples.latents, samples.scores, samples.names
    if name is not None:
        names = (name,) if len(names) == 1 else tuple(f"{name}_{n}" for n in names)
    finder = InterFaceGAN(extreme_fraction=extreme_fraction, random_state=seed)
    return finder.fit(codes, values, names=names, generator=generator).directions_


def _scores_tensor(scores: Tensor, num_latents: int) -> tuple[Tensor, tuple[str, ...]]:
    """In-memory scores `[N]` or `[N, K]` with default names (`score`, or `score0`, ...)."""
    values = scores.detach().cpu().float()
    values = values.unsqueeze(1) if values.ndim == 1 else values
    if values.ndim != 2 or values.shape[0] != num_latents:
        raise ValueError(f"{num_latents} latents but scores of shape {list(scores.shape)}; the counts must match")
    count = values.shape[1]
    return values, ("score",) if count == 1 else tuple(f"score{i}" for i in range(count))


def _latents(latents: Latents | str | Path, generator: AnyGenerator) -> Latents:
    source = "the latents" if isinstance(latents, Latents) else str(latents)
    codes = latents if isinstance(latents, Latents) else load_latents(latents)[0]
    if codes.space is LatentSpace.W_PLUS:
        raise ValueError(f"{source} holds W+ latents; InterFaceGAN fits z or w codes")
    expected = generator.z_dim if codes.space is LatentSpace.Z else generator.w_dim
    if codes.dim != expected:
        raise ValueError(f"{source} holds {codes.dim}-d latents; the generator's {codes.space} has {expected}")
    return codes
