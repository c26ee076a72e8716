"""Inverting a folder of photos: listed recursively in a stable order, cut into batches that the processes torchrun
starts take in turn, each image's results written as soon as its batch is done, images already finished skipped
when the run is repeated, and every image's latents gathered into one file at the end."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import torch
from torch import Tensor

from stylegan_edit.files import atomic_path, remove_stale_temporaries
from stylegan_edit.latents import Latents, load_latents
from stylegan_edit.training.data import image_suffixes
from stylegan_edit.training.distributed import Distributed
from stylegan_edit.workflow.checks import at_least
from stylegan_edit.workflow.inversion import Inversion
from stylegan_edit.workflow.outputs import COMBINED_NAME, save_image_folders
from stylegan_edit.workflow.results import FolderBatch, FolderEvent, FolderRun, FolderStart
from stylegan_edit.workflow.targets import read_targets

RUN_RECORD = "folder-run.json"
RUN_FORMAT = "stylegan-edit/folder-run"
FINISHED_FILE = "metrics.json"  # the last file of an image's folder: written only once the rest is
LATENTS_FILE = "latents.safetensors"
COMBINED_KEYS = ("network", "loss", "encoder", "arch")  # per-image provenance that holds for the whole folder

# (targets [N, 3, R, R] in [-1, 1], the folder index of the first) -> their inversion; images are consecutive.
InvertBatch = Callable[[Tensor, int], Inversion]
T = TypeVar("T")


@dataclass(frozen=True)
class FolderImage:
    """A photo of the folder: `index` its place in the sorted listing (a projection's seed is `seed + index`),
    `path` the file (absolute), `name` its results' folder under the output folder (its relative path without
    the suffix, `a/photo`; `a/photo_2` for a second `a/photo.*`)."""

    index: int
    path: Path
    name: str


def list_folder(folder: str | Path, *, exclude: str | Path | None = None) -> list[FolderImage]:
    """Every image file under `folder`, recursively (suffixes PIL opens; hidden files and folders left out, and
    everything under `exclude`, e.g. the output folder), sorted by relative path; a one-line `ValueError` when the
    folder is missing or holds none."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise ValueError(f"{folder}: no such folder")
    skip = Path(exclude).resolve() if exclude is not None else None
    suffixes = image_suffixes()
    paths = sorted(
        path.relative_to(root)
        for path in root.rglob("*")
        if path.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and not (skip is not None and path.is_relative_to(skip))
        and path.is_file()
    )
    if not paths:
        raise ValueError(f"{folder}: no image files found (looked for .png, .jpg, .webp, ... recursively)")
    names: set[str] = set()
    images = []
    for index, relative in enumerate(paths):
        stem, name, count = relative.with_suffix("").as_posix(), relative.with_suffix("").as_posix(), 1
        while name in names:
            count += 1
            name = f"{stem}_{count}"
        names.add(name)
        images.append(FolderImage(index, root / relative, name))
    return images


def is_finished(outdir: str | Path, image: FolderImage) -> bool:
    """Whether `image`'s results are complete in `outdir`: its `metrics.json` (written last) exists and its
    `latents.safetensors` reads and records `image.path` as its source."""
    folder = Path(outdir) / image.name
    if not (folder / FINISHED_FILE).is_file():
        return False
    try:
        _, metadata = load_latents(folder / LATENTS_FILE)
    except ValueError:
        return False
    return metadata.get("source") == str(image.path)


def shard_batches(
    images: Sequence[FolderImage], batch_size: int, rank: int = 0, world_size: int = 1
) -> list[list[FolderImage]]:
    """The batches of process `rank`: `images` cut into batches of `batch_size` in order, process r taking
    batches r, r + world_size, ... (so the processes' shares differ by one batch at most)."""
    at_least("batch_size", batch_size, 1)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must lie in [0, {world_size}), got {rank}")
    batches = [list(images[first : first + batch_size]) for first in range(0, len(images), batch_size)]
    return batches[rank::world_size]


def consecutive_runs(images: Sequence[FolderImage]) -> list[list[FolderImage]]:
    """`images` split where their indices jump (after a resume, or a photo that failed), so that each run's image
    k is image `first + k` of the folder."""
    runs: list[list[FolderImage]] = []
    for image in images:
        if runs and runs[-1][-1].index + 1 == image.index:
            runs[-1].append(image)
        else:
            runs.append([image])
    return runs


def invert_folder(
    folder: str | Path,
    outdir: str | Path,
    invert: InvertBatch,
    *,
    resolution: int,
    settings: dict[str, str],
    network: str | None = None,
    resume: bool = True,
    batch_size: int = 4,
    align: bool | None = None,
    face_index: int = 0,
    strip: bool = False,
    video: bool = False,
    distributed: Distributed | None = None,
    progress: Callable[[FolderEvent], None] | None = None,
) -> FolderRun:
    """Invert every photo of `folder` (see `list_folder`) into `outdir` by `invert`, `batch_size` at a time, this
    process taking its share (`shard_batches`; `distributed` from `setup_distributed`, None: alone).

    Photos are read at `resolution` with `align` / `face_index` as `read_targets` reads them; one that cannot be
    is reported in its `FolderBatch` and left out. Each batch's images are written as soon as it is done
    (`save_image_folders`, every file atomic, `metrics.json` last). resume: skip the images `is_finished` finds
    done, when `outdir` holds a run of this folder with the same `settings` (a different one is refused in one
    line; none: nothing counts as done); False: redo every image. `settings` (the options that change the
    results) and the folder are recorded in `outdir/folder-run.json`. At the end, once every process is done,
    rank 0 writes `projected.safetensors` with the latents of every finished image in listing order.
    """
    at_least("batch_size", batch_size, 1)
    group = distributed or Distributed()
    outdir = Path(outdir)
    images = list_folder(folder, exclude=outdir)
    record = {"format": RUN_FORMAT, "folder": str(Path(folder).resolve()), **settings}
    report = progress or (lambda event: None)

    def prepare() -> list[FolderImage]:
        done = resume and _same_run(outdir, record, is_main=group.is_main)
        pending = [image for image in images if not (done and is_finished(outdir, image))]
        if group.is_main:
            for image in pending:
                (outdir / image.name / FINISHED_FILE).unlink(missing_ok=True)  # counts as done only once redone
                if (outdir / image.name).is_dir():
                    remove_stale_temporaries(outdir / image.name)
        return pending

    pending = _everywhere(group, prepare)
    if group.is_main:  # after every process has read the earlier record, if any
        with atomic_path(outdir / RUN_RECORD) as tmp:
            tmp.write_text(json.dumps(record, indent=2))
    batches = shard_batches(pending, batch_size, group.rank, group.world_size)
    report(FolderStart(len(images), len(images) - len(pending), sum(map(len, batches)), group.rank, group.world_size))
    began = time.perf_counter()

    def work() -> None:
        for batch in batches:
            report(_invert_batch(batch, invert, outdir, resolution, align, face_index, strip, video, network))

    _everywhere(group, work)
    seconds = time.perf_counter() - began
    finished = [image for image in images if is_finished(outdir, image)] if group.is_main else []
    done = {image.index for image in finished}
    return FolderRun(
        folder=Path(folder),
        outdir=outdir,
        num_images=len(images),
        num_skipped=len(images) - len(pending),
        num_inverted=sum(image.index in done for image in pending),
        failed=tuple(image.name for image in images if image.index not in done) if group.is_main else (),
        combined=_write_combined(outdir, finished, record["folder"]) if finished else None,
        mean_metrics=_mean_metrics(outdir, finished),
        seconds=seconds,
        world_size=group.world_size,
        network=network,
    )


def _same_run(outdir: Path, record: dict[str, str], *, is_main: bool) -> bool:
    """Whether `outdir` holds a run of `record`'s folder and settings (its images may count as done); the main
    process refuses, in one line, a record of other settings."""
    path = outdir / RUN_RECORD
    if not path.is_file():
        return False
    try:
        earlier = json.loads(path.read_text())
        if not isinstance(earlier, dict) or earlier.get("format") != RUN_FORMAT:
            raise ValueError
    except ValueError:
        raise ValueError(f"{path} is not a folder run's record; pass --no-resume to redo every image") from None
    for key in sorted(set(record) | set(earlier)):
        if is_main and earlier.get(key) != record.get(key):
            raise ValueError(
                f"{outdir} holds a run with {key} {earlier.get(key, '(none)')}, this one has "
                f"{record.get(key, '(none)')}: repeat the first run's options to continue it, pass --no-resume to "
                "redo every image, or choose another --outdir"
            )
    return True


def _everywhere(group: Distributed, step: Callable[[], T]) -> T:
    """`step()`'s result once every process has done its step; a failure on one stops all of them (one alone
    would leave the others waiting for it in their next collective)."""
    try:
        result = step()
    except Exception:
        group.all_succeeded(False)
        raise
    if not group.all_succeeded(True):
        raise ValueError("another process of this run failed; see its message")
    return result


def _invert_batch(
    batch: list[FolderImage],
    invert: InvertBatch,
    outdir: Path,
    resolution: int,
    align: bool | None,
    face_index: int,
    strip: bool,
    video: bool,
    network: str | None,
) -> FolderBatch:
    """Read the batch's photos (each alone, so one bad file costs only itself), invert each consecutive run of
    the readable ones and write their folders."""
    readable: list[tuple[FolderImage, Tensor, str]] = []
    failed: list[str] = []
    for image in batch:
        try:
            read = read_targets([image.path], resolution, align=align, face_index=face_index)
        except ValueError as exc:
            failed.append(str(exc) if str(image.path) in str(exc) else f"{image.path}: {exc}")
            continue
        readable.append((image, read.images, read.notes[0]))
    written: list[FolderImage] = []
    lines: list[str] = []
    for run in consecutive_runs([image for image, _, _ in readable]):
        chosen = [entry for entry in readable if entry[0] in run]
        targets = torch.cat([pixels for _, pixels, _ in chosen])
        result = replace(invert(targets, run[0].index), notes=tuple(note for _, _, note in chosen), network=network)
        names = [image.name for image in run]
        _, image_lines = save_image_folders(
            result, outdir, names=names, sources=[str(image.path) for image in run], strip=strip, video=video
        )
        written += run
        lines += [f"{name}: {line}" for name, line in zip(names, image_lines, strict=True)]
    notes = tuple(note for _, _, note in readable)
    return FolderBatch(tuple(image.name for image in written), tuple(lines), notes, tuple(failed))


def _write_combined(outdir: Path, finished: list[FolderImage], folder: str) -> Path:
    """`projected.safetensors`: the finished images' latents in listing order, with their names, sources and
    the provenance they share (network, loss or encoder)."""
    parts, shared = [], {}
    for k, image in enumerate(finished):
        latents, metadata = load_latents(outdir / image.name / LATENTS_FILE)
        parts.append(latents)
        if k == 0:
            shared = {key: metadata[key] for key in COMBINED_KEYS if key in metadata}
        if latents.space is not parts[0].space:
            raise ValueError(
                f"{outdir / image.name} holds {latents.space} latents, {finished[0].name} holds "
                f"{parts[0].space}: pass --no-resume to redo every image"
            )
    path = outdir / COMBINED_NAME
    metadata = {
        **shared,
        "names": json.dumps([image.name for image in finished]),
        "sources": json.dumps([str(image.path) for image in finished]),
        "folder": folder,
    }
    Latents(torch.cat([part.tensor for part in parts]), parts[0].space).save(path, metadata=metadata)
    return path


def _mean_metrics(outdir: Path, finished: list[FolderImage]) -> dict[str, float]:
    """The mean of each number the finished images' `metrics.json` hold (`psnr`, `ssim`, `perceptual`, ...)."""
    totals: dict[str, list[float]] = {}
    for image in finished:
        record = json.loads((outdir / image.name / FINISHED_FILE).read_text())
        for key, value in record.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                totals.setdefault(key, []).append(float(value))
    return {key: sum(values) / len(values) for key, values in totals.items()}
