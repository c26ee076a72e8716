"""Inversion targets: photos (paths or PIL images) read, FFHQ-aligned or centre-cropped by one rule, and brought to
the generator's resolution as one tensor with a note per photo saying what was done, before any optimisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from stylegan_edit.images import center_crop_resize, from_pil, read_image

ImageInput = str | Path | Image.Image
Images = Sequence[ImageInput] | Tensor


@dataclass(frozen=True)
class Targets:
    """Inversion targets `[N, 3, R, R]` in [-1, 1] on the CPU, and one line per photo saying what was done to it
    (`photo.png: aligned from 512x512 (face 1 of 2) to 64x64`; empty for a tensor, taken as it is)."""

    images: Tensor
    notes: tuple[str, ...]


def read_targets(images: Images, resolution: int, *, align: bool | None = None, face_index: int = 0) -> Targets:
    """Photos (paths or PIL images, converted to RGB) or a tensor `[N, 3, resolution, resolution]` in [-1, 1].

    align: None (auto): FFHQ-align face `face_index` (0 the largest) with dlib when one is found and the photo
    is not a face crop already (`is_face_crop`), else centre-crop; True: align, refusing a photo without that
    face; False: centre-crop. A centre crop takes the square of the shorter side, then resizes (LANCZOS). A
    one-line `ValueError` names the file that cannot be read or aligned, or says what is wrong with the tensor.
    """
    if face_index < 0:
        raise ValueError(f"face_index must be 0 or more, got {face_index}")
    if isinstance(images, Tensor):
        if align:
            raise ValueError("align needs photos (paths or PIL images), not a tensor")
        return Targets(check_image_tensor(images, resolution), ())
    if isinstance(images, str | Path | Image.Image):
        raise ValueError("images must be a sequence of paths or PIL images (or a tensor), not a single one")
    if not images:
        raise ValueError("no images given")
    prepared = [_prepare(image, k, resolution, align=align, face_index=face_index) for k, image in enumerate(images)]
    return Targets(torch.cat([from_pil(picture) for picture, _ in prepared]), tuple(note for _, note in prepared))


def check_image_tensor(images: Tensor, resolution: int) -> Tensor:
    """`images` as float32 on the CPU, clamped to [-1, 1], or a one-line `ValueError` when it is not
    `[N, 3, resolution, resolution]` of finite values in [-1, 1]. A generator's raw output overshoots that range a
    little (NVIDIA clamps it when saving), so values up to 1.5 in size are clamped; beyond that the scale is
    taken to be wrong (0-255 or similar)."""
    expected = (3, resolution, resolution)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected or images.shape[0] == 0:
        raise ValueError(f"images must have shape [N, 3, {resolution}, {resolution}], got {list(images.shape)}")
    if not images.dtype.is_floating_point:
        raise ValueError(f"images must be a float tensor in [-1, 1], got {images.dtype} (use x / 127.5 - 1)")
    values = images.detach().to("cpu", torch.float32)
    if not torch.isfinite(values).all():
        raise ValueError("images hold NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if low < -1.5 or high > 1.5:
        raise ValueError(f"images must lie in [-1, 1], got values from {low:g} to {high:g}")
    return values.clamp(-1, 1)


def _prepare(
    image: ImageInput, index: int, resolution: int, *, align: bool | None, face_index: int
) -> tuple[Image.Image, str]:
    if isinstance(image, Image.Image):
        picture, label = (image if image.mode == "RGB" else image.convert("RGB")), f"image {index}"
    else:
        picture, label = read_image(image), str(image)
    size = f"{picture.size[0]}x{picture.size[1]}"
    if align is False:
        return _centre(picture, label, resolution, "not aligned")
    faces = _faces(picture, label, required=bool(align))
    if faces is None:
        return _centre(picture, label, resolution, "no face detector (dlib) installed")
    if not faces:
        if align:
            raise ValueError(f"{label}: no face found (dlib's frontal face detector), so it cannot be aligned")
        return _centre(picture, label, resolution, "no face found")
    if face_index >= len(faces):
        raise ValueError(f"{label}: found {len(faces)} face(s), so face index {face_index} does not exist")
    from stylegan_edit.invert.align import align_face, is_face_crop

    which = f"face {face_index + 1} of {len(faces)}"
    if align is None and is_face_crop(faces[face_index], picture.size):
        return _centre(picture, label, resolution, f"a face crop already ({which})")
    aligned = align_face(picture, output_size=resolution, face_index=face_index, faces=faces).image
    return aligned, f"{label}: aligned from {size} ({which}) to {resolution}x{resolution}"


def _faces(picture: Image.Image, label: str, *, required: bool) -> list[np.ndarray] | None:
    """The faces dlib finds (largest first); None when dlib or its landmark model is missing and not `required`."""
    try:
        from stylegan_edit.invert.align import detect_faces, landmarks_model_path

        landmarks_model_path()
        return detect_faces(picture)
    except (ImportError, ValueError) as exc:
        if required:
            raise ValueError(f"{label}: cannot align: {exc}") from None
        return None


def _centre(picture: Image.Image, label: str, resolution: int, why: str) -> tuple[Image.Image, str]:
    width, height = picture.size
    side = min(width, height)
    steps = [] if width == height else [f"centre-cropped {width}x{height} to {side}x{side}"]
    if side != resolution:
        steps.append(f"resized {side}x{side} to {resolution}x{resolution}")
    done = ", ".join(steps) or f"{width}x{height} as it is"
    return center_crop_resize(picture, resolution), f"{label}: {why}, {done}"
