"""Inversion of photos into a generator's latents: `project` (a preset's optimisation, from the mean W, an
encoder's codes or given latents) and `encode` (an encoder's pass, or a ReStyle encoder's iterations, optionally
refined by L-BFGS), both returning an `Inversion`, optionally followed by pivotal tuning of the generator (PTI,
arXiv:2106.05744)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial

import torch
from torch import Tensor

from stylegan_edit.generators import Generator
from stylegan_edit.generators.sampling import render
from stylegan_edit.invert.noise import NO_NOISE
from stylegan_edit.invert.pivotal import TuningStep
from stylegan_edit.invert.projector import Projector
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.perceptual.choice import LossChoice, choose_loss
from stylegan_edit.perceptual.reconstruction import identity_metric, reconstruction_metrics
from stylegan_edit.workflow.checks import at_least, one_of
from stylegan_edit.workflow.presets import DEFAULT_PRESET, Preset, get_preset
from stylegan_edit.workflow.results import Inversion, ProjectionEvent, ProjectionProgress, ProjectionStart
from stylegan_edit.workflow.starts import (
    EncoderInput,
    LatentsInput,
    NetworkInput,
    encoder_pass,
    load,
    load_checked_encoder,
    network_of,
    projection_start,
)
from stylegan_edit.workflow.targets import Images, read_targets
from stylegan_edit.workflow.tuning import PTI_LR, PTI_STEPS, TuneOptions, tune_inversion

__all__ = ["Inversion", "ProjectionEvent", "ProjectionProgress", "ProjectionStart", "encode", "frame_steps", "project"]


def project(
    network: NetworkInput,
    images: Images,
    *,
    space: str = "w+",
    preset: str | Preset = DEFAULT_PRESET,
    num_steps: int | None = None,
    encoder: EncoderInput = "psp",
    iterations: int | None = None,
    init: LatentsInput | None = None,
    loss: str = "auto",
    noise: bool = False,
    align: bool | None = None,
    face_index: int = 0,
    batch_size: int = 4,
    seed: int = 303,
    num_frames: int = 0,
    progress: Callable[[ProjectionEvent], None] | None = None,
    tune: bool = False,
    tune_steps: int = PTI_STEPS,
    tune_lr: float = PTI_LR,
    tune_first_layer: int = 0,
    tune_progress: Callable[[TuningStep], None] | None = None,
    device: torch.device | str | None = None,
) -> Inversion:
    """Project `images` into `network`'s `space` (`w` or `w+`) by the preset's optimisation.

    network: a generator, StyleGAN2 or StyleGAN3 (no discriminator, so no `disc` loss), a `Network`, or a bundled
    name / checkpoint path loaded on `device` (None: the default model, or the decoder of an official pSp / e4e /
    ReStyle checkpoint given as the encoder of an `encoder-*` preset). images: paths or PIL images, or a tensor
    `[N, 3, R, R]` in [-1, 1] at the generator's resolution. align: None (auto) FFHQ-aligns a photo in which a
    face is found unless it is a face crop already, else centre-crops; True aligns (no face: refused); False
    centre-crops (see `read_targets`); face_index: the face to align, 0 the largest. preset: `nvidia` (the default),
    `lbfgs`, `encoder-lbfgs`, `encoder-adam` (see `PRESETS`) or a `Preset`; num_steps: None runs the
    preset's. encoder: the encoder of `encoder-*` presets (`psp` / `e4e` shipped for a bundled network, a file:
    ours or an official pSp / e4e / ReStyle checkpoint, or an encoder object); iterations: a ReStyle encoder's
    (None: 5; refused for other encoders and starts). init: latents (or a latents file) to start from instead
    of the preset's start: one code for all images or one per image. loss: as `choose_loss` reads it (`auto`,
    `lpips`, `disc`, `mse`, ...). noise: optimise the noise maps too (Adam presets and StyleGAN2 only: StyleGAN3 has
    none). Images are optimised `batch_size` at a time, image k with its own random stream `seed + k`, so the
    batching changes the result only by rounding.
    num_frames: keep the reconstructions at that many evenly spaced steps (`frames`).
    progress: called with a `ProjectionStart`, then a `ProjectionProgress` per step of each batch.
    tune: then tune the generator around the codes (the pivots; PTI: W projection pivots, up to `tune_steps` Adam
    steps at `tune_lr` on the weights driven by W+ layers `tune_first_layer` and up, see `tune_inversion`), all
    images jointly; the result's `tuning` holds the tuned generator; tune_progress: called after each tuning step.
    Every input is checked (files read, the start and the loss resolved) before any optimisation.
    """
    recipe = get_preset(preset)
    tune_options = TuneOptions(tune_steps, tune_lr, tune_first_layer) if tune else None
    if tune and noise:
        raise ValueError("pivotal tuning renders with the generator's own noise: leave out the noise maps")
    one_of("space", space, ("w", "w+"))
    steps = recipe.num_steps if num_steps is None else at_least("num_steps", num_steps, 1)
    at_least("batch_size", batch_size, 1)
    at_least("seed", seed, 0)
    at_least("num_frames", num_frames, 0)
    if noise and recipe.optimizer != "adam":
        raise ValueError(f"preset {recipe.name} runs L-BFGS, which optimises the latents only: noise maps need Adam")
    if recipe.start != "mean" and init is None and space != "w+":
        raise ValueError(f"encoders give w+ codes, so preset {recipe.name} needs space w+, not {space}")
    if recipe.start != "mean" and init is None:
        network = network_of(network, encoder)
    loaded, network_name = load(network, device)
    generator = loaded.generator
    if noise and not isinstance(generator, Generator):
        raise ValueError(NO_NOISE)
    if tune_options is not None:
        tune_options.check(generator)
    read = read_targets(images, generator.img_resolution, align=align, face_index=face_index)
    targets = read.images
    start = projection_start(
        recipe,
        init,
        encoder,
        generator=generator,
        space=space,
        num_images=len(targets),
        network_name=network_name,
        iterations=iterations,
    )
    choice = choose_loss(loss, loaded)
    projector = Projector(
        space=space,
        num_steps=steps,
        **(asdict(recipe.schedule) if recipe.schedule is not None else {"latent_noise": 0.0}),
        optimize_noise=noise,
        perceptual=choice.perceptual,
        perceptual_weight=choice.perceptual_weight,
        mse_weight=choice.mse_weight,
        l1_weight=choice.l1_weight,
        seed=seed,
        optimizer=recipe.optimizer,
    )
    report = progress or (lambda event: None)
    report(ProjectionStart(recipe, steps, start.text, choice, len(targets), read.notes))
    wanted = frame_steps(steps, num_frames)
    parts: list[dict[str, Tensor]] = []
    noise_parts: list[list[Tensor]] = []
    frames: dict[int, list[Tensor]] = {step: [] for step in wanted}
    began = time.perf_counter()
    for first in range(0, len(targets), batch_size):
        batch = targets[first : first + batch_size]
        count = batch.shape[0]
        init_batch = start.init
        if isinstance(init_batch, Latents) and len(init_batch) > 1:
            init_batch = init_batch[first : first + count]
        history, last = [], None
        for last in projector.steps(generator, batch, init_batch, seed_offset=first):
            history.append(last.losses["total"])
            if last.step in frames:
                frames[last.step].append(render(generator, last.latents, last.noise))
            report(ProjectionProgress(last, first, count, len(targets)))
        assert last is not None
        reconstruction = render(generator, last.latents, last.noise)
        metrics = _metrics(reconstruction, batch, choice, generator.device)
        latents, losses = last.latents.tensor.cpu(), torch.stack(history)
        parts.append({"latents": latents, "images": reconstruction, "history": losses, **metrics})
        noise_parts.append([n.cpu() for n in last.noise])
    seconds = time.perf_counter() - began
    joined = {key: torch.cat([part[key] for part in parts], dim=1 if key == "history" else 0) for key in parts[0]}
    images = joined.pop("images")
    measured: dict[str, Tensor] = {key: joined[key] for key in ("mse", "psnr", "ssim", "perceptual") if key in joined}
    result = Inversion(
        latents=Latents(joined.pop("latents"), LatentSpace(space)),
        images=images,
        targets=targets,
        metrics=_with_identity(measured, images, targets),
        noise=[torch.cat(layer) for layer in zip(*noise_parts, strict=True)],
        loss=choice,
        preset=recipe,
        num_steps=steps,
        objective=projector.loss,
        loss_history=joined["history"],
        frames={step: torch.cat(shots) for step, shots in frames.items()},
        num_ws=generator.num_ws,
        network=network_name,
        encoder=start.encoder,
        encoder_arch=start.encoder_arch,
        iterations=start.iterations,
        seed=seed,
        seconds=seconds,
        notes=read.notes,
    )
    if tune_options is None:
        return result
    return tune_inversion(result, generator, choice, tune_options, progress=tune_progress)


def encode(
    network: NetworkInput,
    images: Images,
    *,
    encoder: EncoderInput = "psp",
    iterations: int | None = None,
    refine: int = 0,
    perceptual: str = "auto",
    align: bool | None = None,
    face_index: int = 0,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    tune: bool = False,
    tune_steps: int = PTI_STEPS,
    tune_lr: float = PTI_LR,
    tune_first_layer: int = 0,
    tune_progress: Callable[[TuningStep], None] | None = None,
    device: torch.device | str | None = None,
) -> Inversion:
    """Invert `images` into W+ with an encoder: `psp` / `e4e` shipped for a bundled network, a file (ours, or an
    official pSp / e4e / ReStyle checkpoint), or an encoder object.

    network and images as `project` reads them (None: the default model, or the decoder inside an official
    checkpoint given as `encoder`); iterations: a ReStyle encoder's (None: its 5), refused in one line for
    one-pass encoders; refine: L-BFGS steps from the encoder's codes, `project(..., preset="encoder-lbfgs",
    num_steps=refine)` minimising `perceptual` as project's `loss` (0: none); perceptual: the distance reported
    in the metrics, chosen as `project`'s loss is; align and face_index as `project` reads them; progress: called
    with (images done, total) after each batch. `seconds` is the time of the encoder's passes alone (with
    `refine`, of the whole projection). tune, tune_steps, tune_lr, tune_first_layer, tune_progress: pivotal
    tuning around the (refined) codes, as `project` does it.
    """
    at_least("batch_size", batch_size, 1)
    tune_options = TuneOptions(tune_steps, tune_lr, tune_first_layer) if tune else None
    if at_least("refine", refine, 0):
        return project(
            network,
            images,
            preset="encoder-lbfgs",
            num_steps=refine,
            encoder=encoder,
            iterations=iterations,
            loss=perceptual,
            align=align,
            face_index=face_index,
            batch_size=batch_size,
            progress=None if progress is None else partial(_images_done, progress),
            tune=tune,
            tune_steps=tune_steps,
            tune_lr=tune_lr,
            tune_first_layer=tune_first_layer,
            tune_progress=tune_progress,
            device=device,
        )
    loaded, network_name = load(network_of(network, encoder), device)
    generator = loaded.generator
    model, label = load_checked_encoder(encoder, generator, network_name)
    if tune_options is not None:
        tune_options.check(generator)
    run, count = encoder_pass(model, label, iterations)
    read = read_targets(images, generator.img_resolution, align=align, face_index=face_index)
    targets = read.images
    choice = choose_loss(perceptual, loaded)
    parts: list[dict[str, Tensor]] = []
    seconds = 0.0
    for first in range(0, len(targets), batch_size):
        batch = targets[first : first + batch_size]
        began = time.perf_counter()
        latents = run(batch.to(generator.device))
        seconds += time.perf_counter() - began
        reconstruction = render(generator, latents)
        metrics = _metrics(reconstruction, batch, choice, generator.device)
        parts.append({"latents": latents.tensor.cpu(), "images": reconstruction, **metrics})
        if progress is not None:
            progress(first + batch.shape[0], len(targets))
    joined = {key: torch.cat([part[key] for part in parts]) for key in parts[0]}
    codes, images = joined.pop("latents"), joined.pop("images")
    result = Inversion(
        latents=Latents(codes, LatentSpace.W_PLUS),
        images=images,
        targets=targets,
        metrics=_with_identity(joined, images, targets),
        noise=[],
        loss=choice,
        loss_history=torch.zeros(0, len(targets)),
        frames={},
        num_ws=generator.num_ws,
        network=network_name,
        encoder=label,
        encoder_arch=model.arch,
        iterations=count,
        seconds=seconds,
        notes=read.notes,
    )
    if tune_options is None:
        return result
    return tune_inversion(result, generator, choice, tune_options, progress=tune_progress)


def frame_steps(num_steps: int, num_frames: int) -> list[int]:
    """`num_frames` evenly spaced steps of `num_steps`, the first and the last included (fewer when they round
    to the same step)."""
    if num_frames <= 0:
        return []
    if num_frames == 1:
        return [num_steps - 1]
    return sorted({round(i * (num_steps - 1) / (num_frames - 1)) for i in range(num_frames)})


def _images_done(progress: Callable[[int, int], None], event: ProjectionEvent) -> None:
    if isinstance(event, ProjectionProgress) and event.step.step + 1 == event.step.num_steps:
        progress(event.first + event.count, event.num_images)


def _metrics(images: Tensor, targets: Tensor, choice: LossChoice, device: torch.device) -> dict[str, Tensor]:
    return reconstruction_metrics(images.to(device), targets.to(device), choice.metric)


def _with_identity(metrics: dict[str, Tensor], images: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """The metrics plus `identity` (cosine of dlib's face descriptors of reconstruction and target) when dlib finds
    faces: computed once over all images, because a batch without faces has no such entry."""
    return {**metrics, **identity_metric(images, targets)}
