"""Pivotal tuning of an inversion (Roich et al., arXiv:2106.05744): the projection's or encoder's codes become the
pivots, the generator is tuned around them, and the `Inversion` carries the tuned generator and its
reconstructions."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from stylegan_edit.formats.tuned import portable_spec
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.generators.sampling import render
from stylegan_edit.invert.pivotal import PTI_LPIPS_THRESHOLD, PivotalTuner, TuningStep
from stylegan_edit.perceptual.choice import LossChoice
from stylegan_edit.perceptual.reconstruction import identity_metric, reconstruction_metrics
from stylegan_edit.workflow.checks import at_least, finite
from stylegan_edit.workflow.results import Inversion, Tuning

PTI_STEPS = 350  # PTI's max_pti_steps
PTI_LR = 3e-4  # PTI's pti_learning_rate


@dataclass(frozen=True)
class TuneOptions:
    """Pivotal tuning's settings as `project(tune=True)` and `encode(tune=True)` take them: at most `num_steps`
    Adam updates at `lr`, weights driven by W+ layers `first_layer` and up, PTI's locality regulariser every
    `locality_interval` steps (`locality_weight` 0: off). Checked on construction (one-line `ValueError`)."""

    num_steps: int = PTI_STEPS
    lr: float = PTI_LR
    first_layer: int = 0
    locality_weight: float = 0.1
    locality_interval: int = 1

    def __post_init__(self) -> None:
        at_least("tune_steps", self.num_steps, 1)
        if finite("tune_lr", self.lr, min=0) == 0:
            raise ValueError("tune_lr must be positive, got 0")
        at_least("tune_first_layer", self.first_layer, 0)
        finite("locality_weight", self.locality_weight, min=0)
        at_least("locality_interval", self.locality_interval, 1)

    def check(self, generator: AnyGenerator) -> None:
        """Refuse a `first_layer` the generator does not have (before any work)."""
        if self.first_layer >= generator.num_ws:
            raise ValueError(
                f"tune_first_layer must be below the generator's {generator.num_ws} W+ layers, got {self.first_layer}"
            )


def tune_inversion(
    result: Inversion,
    generator: AnyGenerator,
    loss: LossChoice,
    options: TuneOptions,
    *,
    progress: Callable[[TuningStep], None] | None = None,
) -> Inversion:
    """`result` with its generator tuned around its latents (all images jointly: one tuned generator), minimising
    the inversion's objective (its perceptual distance and the pixel L2, as PTI's LPIPS + L2) until PTI's LPIPS
    threshold (LPIPS objectives only) or `options.num_steps`. images and metrics become the tuned generator's;
    the base's are kept in `tuning`. progress: called after every step."""
    options.check(generator)
    is_lpips = loss.perceptual is not None and loss.perceptual.name.startswith("lpips")
    perceptual = loss.perceptual if loss.perceptual is not None and loss.perceptual_weight else None
    tuner = PivotalTuner(
        num_steps=options.num_steps,
        lr=options.lr,
        perceptual=perceptual,
        perceptual_weight=1.0 if perceptual is not None else 0.0,
        stop_below=PTI_LPIPS_THRESHOLD if is_lpips and perceptual is not None else None,
        locality_weight=options.locality_weight,
        locality_interval=options.locality_interval,
        first_layer=options.first_layer,
        seed=result.seed,
    )
    base_spec = portable_spec(result.network) if result.network is not None else None
    began = time.perf_counter()
    last: TuningStep | None = None
    history = []
    for last in tuner.steps(generator, result.latents, result.targets):
        history.append(last.losses["total"])
        if progress is not None:
            progress(last)
    assert last is not None
    seconds = time.perf_counter() - began
    tuned = last.generator
    images = render(tuned, result.latents)
    device = generator.device
    metrics = reconstruction_metrics(images.to(device), result.targets.to(device), loss.metric)
    names = tuple(tuner.tuned_parameters(generator))
    weights = dict(generator.named_parameters())
    tuning = Tuning(
        generator=tuned,
        base=generator,
        base_spec=base_spec,
        num_steps=last.step if last.converged else last.step + 1,
        max_steps=options.num_steps,
        converged=last.converged,
        lr=options.lr,
        first_layer=options.first_layer,
        tuned=names,
        num_weights=sum(weights[name].numel() for name in names),
        pivot_images=result.images,
        pivot_metrics=result.metrics,
        loss_history=torch.stack(history),
        seconds=seconds,
    )
    metrics = {**metrics, **identity_metric(images, result.targets)}
    return dataclasses.replace(result, images=images, metrics=metrics, tuning=tuning)
