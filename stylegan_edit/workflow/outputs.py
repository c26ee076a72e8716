"""An `Inversion` written to a folder as `project` and `encode` write it: one sub-folder per image (latents,
NVIDIA's projected_w.npz, the images, metrics, optional strip / video / noise maps), all latents in one file and,
after pivotal tuning (PTI, arXiv:2106.05744), the tuned generator beside them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image
from torch import Tensor

from stylegan_edit.files import atomic_path
from stylegan_edit.formats.tuned import save_tuned
from stylegan_edit.images import make_grid, save_pil, to_pil
from stylegan_edit.latents import LatentSpace
from stylegan_edit.workflow.inversion import Inversion, frame_steps

STRIP_FRAMES = 8
VIDEO_FRAMES = 50
COMBINED_NAME = "projected.safetensors"
TUNED_NAME = "tuned.safetensors"
TUNED_KEY = "tuned_network"  # latents metadata: the absolute path of the generator tuned around them
EXTRAS = ("noise.safetensors", "strip.png", "proj.gif")


@dataclass(frozen=True)
class SavedInversion:
    """Where an inversion went: one folder per image, its metrics line (`MSE ... PSNR ... -> folder`), the file
    holding every image's latents in input order, and the tuned generator's file (None: not tuned) with what it
    holds in words (`a float16 delta against synthfaces-64`, `the full generator`)."""

    names: list[str]
    folders: list[Path]
    lines: list[str]
    combined: Path
    tuned: Path | None = None
    tuned_kind: str = ""


def num_frames(*, strip: bool, video: bool) -> int:
    """How many evenly spaced reconstructions `project(num_frames=...)` keeps for the strip and / or the video
    (the strip's 8 steps are among the video's 50)."""
    return VIDEO_FRAMES if video else STRIP_FRAMES if strip else 0


def output_names(paths: Sequence[str | Path]) -> list[str]:
    """One folder name per input: the file's stem, numbered when stems repeat."""
    names: list[str] = []
    for path in paths:
        stem = Path(path).stem or "image"
        name, count = stem, 1
        while name in names:
            count += 1
            name = f"{stem}_{count}"
        names.append(name)
    return names


def provenance(result: Inversion, index: int | None = None) -> dict[str, str]:
    """How the latents were made, as file metadata: the network, then the projection's loss, steps, schedule and
    image `index`'s seed (all images' when None: network and loss only), or the encoder."""
    record = {"network": result.network} if result.network is not None else {}
    if result.preset is None:
        return {**record, "encoder": str(result.encoder), "arch": str(result.encoder_arch)}
    record["loss"] = result.objective
    if index is None:
        return record
    schedule = result.preset.schedule
    record["preset"] = result.preset.name
    record["steps"] = str(result.num_steps)
    record["schedule"] = (
        ", ".join(f"{key} {value:g}" for key, value in asdict(schedule).items()) if schedule is not None else "lbfgs"
    )
    record["seed"] = str(result.seed + index)
    if result.encoder is not None:
        record.update(encoder=result.encoder, arch=str(result.encoder_arch))
    return record


def save_inversion(
    result: Inversion,
    outdir: str | Path,
    *,
    sources: Sequence[str | Path] | None = None,
    names: Sequence[str] | None = None,
    strip: bool = False,
    video: bool = False,
    tuned_full: bool = False,
) -> SavedInversion:
    """Write `result` under `outdir` (each file atomically; extras of an earlier run into the same folder are
    removed): per image `<name>/latents.safetensors`, `projected_w.npz`, `target.png`, `proj.png`, `compare.png`
    (target | reconstruction), `metrics.json` (after tuning also `pivot_psnr`, ...: the base's reconstruction
    of the pivot), and `noise.safetensors` (optimised noise), `strip.png` (8 steps)
    and `proj.gif` (the optimisation; `strip` / `video` need the frames kept by `project(num_frames=...)`);
    then `projected.safetensors` with all latents and, when the result was tuned, `tuned.safetensors`: a float16
    delta against the base generator, or with `tuned_full` (or a base passed as an object, which no file names)
    the full tuned generator; every latents file then records its absolute path as `tuned_network`.

    sources: the input files, recorded as metadata and naming the folders unless `names` are given
    (default names: image0, image1, ...).
    """
    outdir = Path(outdir)
    count = len(result.latents)
    if names is None:
        names = output_names(sources) if sources is not None else [f"image{k}" for k in range(count)]
    _check_images(result, names, sources, strip=strip, video=video)  # before the tuned generator is written
    tuned, tuned_kind = _write_tuned(result, outdir, full=tuned_full)
    tuned_record = {TUNED_KEY: str(tuned.resolve())} if tuned is not None else {}
    folders, lines = save_image_folders(
        result, outdir, names=names, sources=sources, strip=strip, video=video, metadata=tuned_record
    )
    combined = outdir / COMBINED_NAME
    metadata = {**provenance(result), **tuned_record, "names": json.dumps(list(names))}
    metadata["sources"] = json.dumps([str(s) for s in (sources if sources is not None else names)])
    result.latents.save(combined, metadata=metadata)
    return SavedInversion(list(names), folders, lines, combined, tuned, tuned_kind)


def save_image_folders(
    result: Inversion,
    outdir: str | Path,
    *,
    names: Sequence[str],
    sources: Sequence[str | Path] | None = None,
    strip: bool = False,
    video: bool = False,
    metadata: dict[str, str] | None = None,
) -> tuple[list[Path], list[str]]:
    """Write each image's sub-folder `outdir/<name>` as `save_inversion` does (`metrics.json` last, so its presence
    means the folder is complete), without the file of all latents; returns the folders and their metrics lines.

    names: one folder name per image (may hold `/`: nested folders); sources: the input files, recorded as
    metadata; metadata: more entries for every image's latents and metrics.
    """
    outdir = Path(outdir)
    _check_images(result, names, sources, strip=strip, video=video)
    steps = sorted(result.frames)
    strip_steps = set(frame_steps(result.num_steps, STRIP_FRAMES))
    folders, lines = [], []
    for k, name in enumerate(names):
        record = {**provenance(result, k), **(metadata or {})}
        if sources is not None:
            record["source"] = str(sources[k])
        pictures = {step: to_pil(result.frames[step][k : k + 1])[0] for step in steps}
        frames = {}
        if strip:
            frames["strip"] = [pictures[s] for s in steps if s in strip_steps]
        if video:
            frames["video"] = [pictures[s] for s in steps]
        folder = outdir / name
        metrics = {key: float(value[k]) for key, value in result.metrics.items() if not math.isnan(float(value[k]))}
        if result.tuning is not None:  # the base generator's reconstruction of the pivot, before tuning
            pivot = result.tuning.pivot_metrics
            metrics.update({f"pivot_{key}": float(v[k]) for key, v in pivot.items() if not math.isnan(float(v[k]))})
        _write_image(folder, result, k, record, metrics, frames)
        folders.append(folder)
        lines.append(_metrics_line(metrics, _perceptual_name(result)) + f"  -> {folder}")
    return folders, lines


def _check_images(
    result: Inversion, names: Sequence[str], sources: Sequence[str | Path] | None, *, strip: bool, video: bool
) -> None:
    count = len(result.latents)
    if len(names) != count or (sources is not None and len(sources) != count):
        raise ValueError(f"{count} images inverted, but {len(names)} names and {len(sources or names)} sources given")
    if (strip or video) and not result.frames:
        raise ValueError("strip and video need the frames: project with num_frames=num_frames(strip=..., video=...)")


def _write_tuned(result: Inversion, outdir: Path, *, full: bool) -> tuple[Path | None, str]:
    """Write the tuned generator, if any, beside the latents; its path and what it holds, in words."""
    tuning = result.tuning
    if tuning is None:
        (outdir / TUNED_NAME).unlink(missing_ok=True)  # nor may a re-run without tuning leave an old one
        return None, ""
    path = outdir / TUNED_NAME
    full = full or tuning.base_spec is None
    metadata = {
        "made_by": "pivotal tuning (arXiv:2106.05744)",
        "tune_steps": str(tuning.num_steps),
        "tune_lr": f"{tuning.lr:g}",
        "tune_first_layer": str(tuning.first_layer),
    }
    save_tuned(path, tuning.generator, tuning.base, base_spec=tuning.base_spec, full=full, metadata=metadata)
    return path, "the full generator" if full else f"a float16 delta against {tuning.base_spec}"


def _perceptual_name(result: Inversion) -> str | None:
    return result.loss.metric.name if result.loss.metric is not None else None


def _write_image(
    folder: Path,
    result: Inversion,
    k: int,
    metadata: dict[str, str],
    metrics: dict[str, float],
    frames: dict[str, list[Image.Image]],
) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    latents = result.latents[k]
    latents.save(folder / "latents.safetensors", metadata=metadata)
    if latents.space is not LatentSpace.Z:
        latents.save_npz(folder / "projected_w.npz", num_ws=result.num_ws)
    noise: list[Tensor] = [n[k : k + 1] for n in result.noise]
    if noise:
        tensors = {f"noise.{i}": n[0, 0].detach().cpu().contiguous() for i, n in enumerate(noise)}
        with atomic_path(folder / "noise.safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={"format": "stylegan-edit/noise", **metadata})
    target, reconstruction = to_pil(result.targets[k : k + 1])[0], to_pil(result.images[k : k + 1])[0]
    save_pil(target, folder / "target.png")
    save_pil(reconstruction, folder / "proj.png")
    save_pil(make_grid([target, reconstruction], ncols=2), folder / "compare.png")
    if "strip" in frames:
        save_pil(make_grid(frames["strip"], ncols=len(frames["strip"])), folder / "strip.png")
    if "video" in frames:
        with atomic_path(folder / "proj.gif", suffix=".gif") as tmp:
            first, *rest = frames["video"]
            first.save(tmp, format="GIF", save_all=True, append_images=rest, duration=80, loop=0)
    written = {"noise.safetensors": bool(noise), "strip.png": "strip" in frames, "proj.gif": "video" in frames}
    for name in EXTRAS:  # a re-run into the same folder must not leave another run's extras
        if not written[name]:
            (folder / name).unlink(missing_ok=True)
    record = {**metrics, "perceptual_name": _perceptual_name(result), **metadata}
    with atomic_path(folder / "metrics.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2))


def _metrics_line(metrics: dict[str, float], perceptual_name: str | None) -> str:
    line = f"MSE {metrics['mse']:.5f}  PSNR {metrics['psnr']:.2f} dB  SSIM {metrics['ssim']:.4f}"
    if "perceptual" in metrics:
        line += f"  {perceptual_name} {metrics['perceptual']:.4f}"
    if "identity" in metrics:
        line += f"  identity {metrics['identity']:.4f}"
    return line
