"""`project` and `encode` over a folder of photos (`workflow.folders`): the network, the encoder and the starting
latents are loaded once, then each batch is inverted as `project` / `encode` invert a list of photos."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from stylegan_edit.latents import Latents, load_latents
from stylegan_edit.training.distributed import Distributed
from stylegan_edit.workflow.folders import invert_folder, list_folder
from stylegan_edit.workflow.inversion import Inversion, encode, project
from stylegan_edit.workflow.outputs import num_frames
from stylegan_edit.workflow.presets import DEFAULT_PRESET, Preset, get_preset
from stylegan_edit.workflow.results import FolderEvent, FolderRun, ProjectionEvent, ProjectionStart
from stylegan_edit.workflow.starts import (
    EncoderInput,
    LatentsInput,
    NetworkInput,
    encoder_pass,
    load,
    load_checked_encoder,
    network_of,
)

FolderProgress = Callable[[FolderEvent | ProjectionStart], None]


def project_folder(
    network: NetworkInput,
    folder: str | Path,
    outdir: str | Path,
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
    strip: bool = False,
    video: bool = False,
    resume: bool = True,
    distributed: Distributed | None = None,
    progress: FolderProgress | None = None,
    device: torch.device | str | None = None,
) -> FolderRun:
    """`project` every photo of `folder` into `outdir`, as `invert_folder` runs a folder (resume, sharding over
    `distributed`, one folder of results per image as its batch finishes, `projected.safetensors` at the end).

    The options are `project`'s; image k of the folder's sorted listing draws its randomness from `seed + k`
    however the images are batched, sharded or resumed; init: one code for all images, or one per image in
    listing order. Pivotal tuning is not offered (it tunes one generator around all images at once).
    progress: the folder's events, and the first batch's `ProjectionStart` (the preset and the loss in words).
    """
    recipe = get_preset(preset)
    steps = recipe.num_steps if num_steps is None else num_steps
    needs_encoder = recipe.start != "mean" and init is None
    loaded, name = load(network_of(network, encoder) if needs_encoder else network, device)
    encoder_input, label = encoder, None
    if needs_encoder:
        encoder_input, label = load_checked_encoder(encoder, loaded.generator, name)
    codes = _one_or_each(init, folder, outdir)
    settings = {
        "command": "project",
        "network": _named(name),
        "space": space,
        "preset": recipe.name,
        "steps": str(steps),
        "start": _start_text(init, label),
        "iterations": str(iterations),
        "loss": loss,
        "noise": str(noise),
        "align": str(align),
        "face_index": str(face_index),
        "seed": str(seed),
        "strip": str(strip),
        "video": str(video),
    }
    described = False

    def first_start(event: ProjectionEvent) -> None:
        nonlocal described
        if isinstance(event, ProjectionStart) and progress is not None and not described:
            described = True
            progress(event)

    def invert(targets: Tensor, first: int) -> Inversion:
        start = codes if codes is None or len(codes) == 1 else codes[first : first + len(targets)]
        result = project(
            loaded,
            targets,
            space=space,
            preset=recipe,
            num_steps=num_steps,
            encoder=encoder_input,
            iterations=iterations,
            init=start,
            loss=loss,
            noise=noise,
            batch_size=len(targets),
            seed=seed + first,
            num_frames=num_frames(strip=strip, video=video),
            progress=first_start,
            device=device,
        )
        return replace(result, encoder=label or result.encoder)

    return invert_folder(
        folder,
        outdir,
        invert,
        resolution=loaded.generator.img_resolution,
        settings=settings,
        network=name,
        resume=resume,
        batch_size=batch_size,
        align=align,
        face_index=face_index,
        strip=strip,
        video=video,
        distributed=distributed,
        progress=progress,
    )


def encode_folder(
    network: NetworkInput,
    folder: str | Path,
    outdir: str | Path,
    *,
    encoder: EncoderInput = "psp",
    iterations: int | None = None,
    refine: int = 0,
    perceptual: str = "auto",
    align: bool | None = None,
    face_index: int = 0,
    batch_size: int = 16,
    resume: bool = True,
    distributed: Distributed | None = None,
    progress: FolderProgress | None = None,
    device: torch.device | str | None = None,
) -> FolderRun:
    """`encode` every photo of `folder` into `outdir`, as `invert_folder` runs a folder; the options are
    `encode`'s (no pivotal tuning)."""
    loaded, name = load(network_of(network, encoder), device)
    model, label = load_checked_encoder(encoder, loaded.generator, name)
    encoder_pass(model, label, iterations)  # refuses iterations for a one-pass encoder before any work
    settings = {
        "command": "encode",
        "network": _named(name),
        "encoder": label,
        "iterations": str(iterations),
        "refine": str(refine),
        "perceptual": perceptual,
        "align": str(align),
        "face_index": str(face_index),
    }

    def invert(targets: Tensor, first: int) -> Inversion:
        result = encode(
            loaded,
            targets,
            encoder=model,
            iterations=iterations,
            refine=refine,
            perceptual=perceptual,
            batch_size=len(targets),
            device=device,
        )
        return replace(result, encoder=label)

    return invert_folder(
        folder,
        outdir,
        invert,
        resolution=loaded.generator.img_resolution,
        settings=settings,
        network=name,
        resume=resume,
        batch_size=batch_size,
        align=align,
        face_index=face_index,
        distributed=distributed,
        progress=progress,
    )


def _one_or_each(init: LatentsInput | None, folder: str | Path, outdir: str | Path) -> Latents | None:
    """The starting latents, read once: one code, or one per image of the folder (else a one-line error)."""
    if init is None:
        return None
    codes = init if isinstance(init, Latents) else load_latents(init)[0]
    count = len(list_folder(folder, exclude=outdir))
    if len(codes) not in (1, count):
        source = "init" if isinstance(init, Latents) else str(init)
        raise ValueError(f"{source} holds {len(codes)} codes, {folder} {count} images: give one, or one per image")
    return codes


def _start_text(init: LatentsInput | None, encoder_label: str | None) -> str:
    if isinstance(init, str | Path):
        return str(Path(init).resolve())
    if init is not None:
        return "given latents"
    return f"the {encoder_label} encoder's codes" if encoder_label is not None else "the mean W"


def _named(name: str | None) -> str:
    return name if name is not None else "a network object"
