"""The inversion methods `bench_inversion.py` compares, one small entry each, all run through the workflow API.

Projection in W / W+ / W+ with noise maps (NVIDIA's projector, arXiv:1912.04958), pSp (arXiv:2008.00951), e4e
(arXiv:2102.02766), ReStyle over pSp / e4e (arXiv:2104.02699), HyperStyle (arXiv:2111.15666), PTI
(arXiv:2106.05744: a W projection as the pivot, then one generator tuned per image) and an encoder followed by
L-BFGS refinement (the `encoder-lbfgs` preset). A method that needs a file nobody gave is skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from stylegan_edit.generators import AnyGenerator, Network
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.workflow.inversion import Inversion, encode, project

HYPERSTYLE_MODULE = "stylegan_edit.workflow.hyperstyle"


@dataclass(frozen=True)
class Settings:
    """What the methods are run with: the network's spec (None: the default model; HyperStyle loads it itself),
    projection steps (also PTI's pivot), L-BFGS refinement steps, PTI's tuning steps, and the files of the
    methods that need one (None: not given) with their iterations."""

    network: str | None = None
    steps: int = 1000
    refine_steps: int = 100
    tune_steps: int = 350
    restyle_psp: str | None = None
    restyle_e4e: str | None = None
    restyle_iterations: int = 5
    hyperstyle: str | None = None
    hyperstyle_iterations: int = 5


@dataclass(frozen=True, eq=False)
class MethodResult:
    """A method's codes `[N, ...]`, its reconstructions `[N, 3, R, R]` in [-1, 1], the inversion's seconds for all
    N images, and the generators that render the codes: one for all images, or one per image (PTI, HyperStyle)."""

    latents: Latents
    images: Tensor
    seconds: float
    generators: list[AnyGenerator]


Runner = Callable[[Network, Tensor, Settings], MethodResult]


@dataclass(frozen=True)
class Method:
    """One row of the benchmark: its key (for `--methods`), its label given the settings, how it runs, and why it
    cannot run with these settings (None: it can)."""

    key: str
    label: Callable[[Settings], str]
    run: Runner
    skip: Callable[[Settings], str | None] = lambda settings: None


def _shared(network: Network, result: Inversion, seconds: float | None = None) -> MethodResult:
    total = result.seconds if seconds is None else seconds
    return MethodResult(result.latents, result.images, total, [network.generator])


def _projection(space: str, noise: bool = False) -> Runner:
    def run(network: Network, targets: Tensor, settings: Settings) -> MethodResult:
        result = project(network, targets, space=space, num_steps=settings.steps, noise=noise, batch_size=8)
        return _shared(network, result)

    return run


def _encoder(
    encoder: str | Callable[[Settings], str | None], iterations: str | None = None, refine: bool = False
) -> Runner:
    def run(network: Network, targets: Tensor, settings: Settings) -> MethodResult:
        file = encoder if isinstance(encoder, str) else encoder(settings)
        assert file is not None
        count = getattr(settings, iterations) if iterations is not None else None
        steps = settings.refine_steps if refine else 0
        return _shared(network, encode(network, targets, encoder=file, iterations=count, refine=steps))

    return run


def _pti(network: Network, targets: Tensor, settings: Settings) -> MethodResult:
    """PTI's single-image mode: per image a W projection (the pivot), then a generator tuned around it; seconds
    are the projection's and the tuning's."""
    parts = [
        project(
            network, targets[k : k + 1], space="w", num_steps=settings.steps, tune=True, tune_steps=settings.tune_steps
        )
        for k in range(len(targets))
    ]
    tunings = [part.tuning for part in parts]
    assert all(tuning is not None for tuning in tunings)
    seconds = sum(part.seconds + tuning.seconds for part, tuning in zip(parts, tunings, strict=True) if tuning)
    latents = Latents(torch.cat([part.latents.tensor for part in parts]), LatentSpace.W)
    images = torch.cat([part.images for part in parts])
    return MethodResult(latents, images, seconds, [tuning.generator for tuning in tunings if tuning])


def _hyperstyle_missing(settings: Settings) -> str | None:
    if settings.hyperstyle is None:
        return "no --hyperstyle file given"
    if importlib.util.find_spec(HYPERSTYLE_MODULE) is None:
        return f"{HYPERSTYLE_MODULE} is not in this installation yet"
    if not hasattr(importlib.import_module(HYPERSTYLE_MODULE), "invert_hyperstyle"):
        return f"{HYPERSTYLE_MODULE} has no invert_hyperstyle() yet"
    return None


def _hyperstyle(network: Network, targets: Tensor, settings: Settings) -> MethodResult:
    """HyperStyle through `workflow.hyperstyle.invert_hyperstyle`: the file's W encoder's codes, then its
    iterations of weight offsets; each image is edited with its own generator (the offsets materialised)."""
    module = importlib.import_module(HYPERSTYLE_MODULE)
    result = module.invert_hyperstyle(
        targets, settings.hyperstyle, network=settings.network, iterations=settings.hyperstyle_iterations
    )
    inversion = result.inversion
    generators = [result.tuned_generator(k) for k in range(len(inversion.latents))]
    return MethodResult(inversion.latents, inversion.images, inversion.seconds, generators)


def _given(option: str, value: Callable[[Settings], str | None]) -> Callable[[Settings], str | None]:
    return lambda settings: None if value(settings) is not None else f"no --{option} file given"


def _restyle_psp(settings: Settings) -> str | None:
    return settings.restyle_psp


def _restyle_e4e(settings: Settings) -> str | None:
    return settings.restyle_e4e


METHODS: tuple[Method, ...] = (
    Method("w", lambda s: f"projection W, {s.steps} Adam steps", _projection("w")),
    Method("w+", lambda s: f"projection W+, {s.steps} Adam steps", _projection("w+")),
    Method("w+noise", lambda s: f"projection W+ and noise, {s.steps} Adam steps", _projection("w+", noise=True)),
    Method("psp", lambda s: "pSp", _encoder("psp")),
    Method("e4e", lambda s: "e4e", _encoder("e4e")),
    Method(
        "restyle-psp",
        lambda s: f"ReStyle-pSp, {s.restyle_iterations} iterations",
        _encoder(_restyle_psp, "restyle_iterations"),
        _given("restyle-psp", _restyle_psp),
    ),
    Method(
        "restyle-e4e",
        lambda s: f"ReStyle-e4e, {s.restyle_iterations} iterations",
        _encoder(_restyle_e4e, "restyle_iterations"),
        _given("restyle-e4e", _restyle_e4e),
    ),
    Method(
        "hyperstyle", lambda s: f"HyperStyle, {s.hyperstyle_iterations} iterations", _hyperstyle, _hyperstyle_missing
    ),
    Method("pti", lambda s: f"PTI: W pivot, <= {s.tune_steps} tuning steps", _pti),
    Method("psp+lbfgs", lambda s: f"pSp + {s.refine_steps} L-BFGS steps", _encoder("psp", refine=True)),
    Method("e4e+lbfgs", lambda s: f"e4e + {s.refine_steps} L-BFGS steps", _encoder("e4e", refine=True)),
)


def method(key: str) -> Method:
    """The method of that key; a one-line `ValueError` naming the known ones."""
    for entry in METHODS:
        if entry.key == key:
            return entry
    raise ValueError(f"unknown method {key!r} (known: {', '.join(m.key for m in METHODS)})")
