"""The inputs and outputs `project` and `encode` share: target preparation, loss choice, and the files written."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from stylegan_edit.files import atomic_path
from stylegan_edit.generators import Generator
from stylegan_edit.generators.sampling import render
from stylegan_edit.images import center_crop_resize, make_grid, read_image, save_pil, to_pil
from stylegan_edit.invert.initial import Init
from stylegan_edit.invert.projector import ProjectionStep
from stylegan_edit.latents import Latents, LatentSpace

STRIP_FRAMES = 8
VIDEO_FRAMES = 50


def prepare_targets(paths: Sequence[Path], resolution: int, *, align: bool, face_index: int) -> list[Image.Image]:
    """Every image read, converted to RGB and brought to `resolution` (aligned or centre-cropped), before any
    optimisation starts, so a bad file fails the run before anything is written."""
    targets = []
    for path in paths:
        image = read_image(path)
        if align:
            from stylegan_edit.invert.align import align_face

            try:
                image = align_face(image, output_size=resolution, face_index=face_index).image
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
        else:
            image = center_crop_resize(image, resolution)
        targets.append(image)
    return targets


def resolve_init(
    spec: str,
    generator: Generator,
    space: str,
    num_images: int,
    *,
    encoder: str = "psp",
    network: str | None = None,
) -> Init:
    """`mean` -> None; `encoder` -> the encoder `encoder` (psp / e4e shipped for the bundled `network`, or a
    checkpoint) as a callable `images -> Latents`; a latents file -> its latents, checked against the generator
    and the image count."""
    from stylegan_edit.invert.initial import check_compatible, convert
    from stylegan_edit.latents import load_latents

    if spec == "mean":
        return None
    if spec == "encoder":
        from stylegan_edit.encoders import load_encoder

        if space != LatentSpace.W_PLUS:
            raise ValueError("encoders give w+ codes, so --init encoder needs --space w+")
        model = load_encoder(encoder, network=network, device=generator.device)
        model.check_generator(generator, f"the encoder {encoder}")
        return model.encode
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--init {spec}: not 'mean', 'encoder' or an existing latents file")
    latents, _ = load_latents(path)
    check_compatible(latents, generator, str(path))
    convert(latents.to(generator.device), generator, LatentSpace(space), str(path))
    if len(latents) not in (1, num_images):
        raise ValueError(f"{path}: {len(latents)} codes for {num_images} images (give one, or one per image)")
    return latents


def output_names(paths: Sequence[Path]) -> list[str]:
    """One folder name per input: the file's stem, numbered when stems repeat."""
    names: list[str] = []
    for path in paths:
        stem = path.stem or "image"
        name, count = stem, 1
        while name in names:
            count += 1
            name = f"{stem}_{count}"
        names.append(name)
    return names


class Frames:
    """Reconstructions at evenly spaced steps, for the optimisation strip and video."""

    def __init__(self, num_steps: int, *, strip: bool, video: bool) -> None:
        wanted: set[int] = set()
        if strip:
            wanted |= {round(i * (num_steps - 1) / (STRIP_FRAMES - 1)) for i in range(STRIP_FRAMES)}
        if video:
            wanted |= {round(i * (num_steps - 1) / (VIDEO_FRAMES - 1)) for i in range(VIDEO_FRAMES)}
        self.strip = strip
        self.video = video
        self.num_steps = num_steps
        self.wanted = wanted
        self.images: dict[int, Tensor] = {}

    def collect(self, generator: Generator, progress: ProjectionStep) -> None:
        if progress.step in self.wanted:
            self.images[progress.step] = render(generator, progress.latents, progress.noise).cpu()

    def for_image(self, index: int) -> dict[str, list[Image.Image]]:
        steps = sorted(self.images)
        pictures = {s: to_pil(self.images[s][index : index + 1])[0] for s in steps}
        result: dict[str, list[Image.Image]] = {}
        if self.strip:
            chosen = {round(i * (self.num_steps - 1) / (STRIP_FRAMES - 1)) for i in range(STRIP_FRAMES)}
            result["strip"] = [pictures[s] for s in steps if s in chosen]
        if self.video:
            result["video"] = [pictures[s] for s in steps]
        return result


def write_image_outputs(
    folder: Path,
    *,
    source: Path,
    target: Tensor,
    reconstruction: Tensor,
    latents: Latents,
    noise: list[Tensor],
    metrics: dict[str, float],
    frames: dict[str, list[Image.Image]],
    num_ws: int,
    provenance: dict[str, str],
    perceptual_name: str | None,
) -> str:
    """Write one image's files (each atomically) and return its metrics line."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    metadata = {**provenance, "source": str(source)}
    latents.save(folder / "latents.safetensors", metadata=metadata)
    latents.save_npz(folder / "projected_w.npz", num_ws=num_ws)
    if noise:
        tensors = {f"noise.{i}": n[0, 0].detach().cpu().contiguous() for i, n in enumerate(noise)}
        with atomic_path(folder / "noise.safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={"format": "stylegan-edit/noise", **metadata})
    target_picture, recon_picture = to_pil(target)[0], to_pil(reconstruction)[0]
    save_pil(target_picture, folder / "target.png")
    save_pil(recon_picture, folder / "proj.png")
    save_pil(make_grid([target_picture, recon_picture], ncols=2), folder / "compare.png")
    if "strip" in frames:
        save_pil(make_grid(frames["strip"], ncols=len(frames["strip"])), folder / "strip.png")
    if "video" in frames:
        _save_gif(frames["video"], folder / "proj.gif")
    written = {"noise.safetensors": bool(noise), "strip.png": "strip" in frames, "proj.gif": "video" in frames}
    for name, fresh in written.items():  # a re-run into the same folder must not leave another run's extras
        if not fresh:
            (folder / name).unlink(missing_ok=True)
    record = {**metrics, "perceptual_name": perceptual_name, **metadata}
    with atomic_path(folder / "metrics.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    line = f"MSE {metrics['mse']:.5f}  PSNR {metrics['psnr']:.2f} dB  SSIM {metrics['ssim']:.4f}"
    if "perceptual" in metrics:
        line += f"  {perceptual_name} {metrics['perceptual']:.4f}"
    return line + f"  -> {folder}"


def _save_gif(pictures: list[Image.Image], path: Path) -> None:
    with atomic_path(path, suffix=".gif") as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=80, loop=0)


def write_combined(
    outdir: Path,
    parts: list[Tensor],
    space: str,
    names: list[str],
    sources: Sequence[Path],
    provenance: dict[str, str],
) -> Path:
    """All images' latents, in input order, as one file (what `apply` edits by default).

    provenance: how they were made (`network` and the projection `loss`, or the `encoder`), kept as metadata.
    """
    path = outdir / "projected.safetensors"
    metadata = {
        **provenance,
        "names": json.dumps(names),
        "sources": json.dumps([str(s) for s in sources]),
    }
    Latents(torch.cat(parts), LatentSpace(space)).save(path, metadata=metadata)
    return path
