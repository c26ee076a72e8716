"""Inversion targets: photos (paths or PIL images) read, aligned or centre-cropped, and brought to the generator's
resolution as one tensor, before any optimisation starts, so a bad file fails a run before anything is written."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from stylegan_edit.images import center_crop_resize, from_pil, read_image

ImageInput = str | Path | Image.Image
Images = Sequence[ImageInput] | Tensor


def read_targets(images: Images, resolution: int, *, align: bool = False, face_index: int = 0) -> Tensor:
    """`[N, 3, resolution, resolution]` in [-1, 1] on the CPU.

    images: paths or PIL images (converted to RGB, then FFHQ-aligned with dlib when `align`, else centre-cropped
    and resized), or a tensor `[N, 3, resolution, resolution]` in [-1, 1] taken as it is. A one-line
    `ValueError` names the file that cannot be read, has no face, or the tensor of the wrong shape.
    """
    if isinstance(images, Tensor):
        if align:
            raise ValueError("align needs photos (paths or PIL images), not a tensor")
        expected = (3, resolution, resolution)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must have shape [N, 3, {resolution}, {resolution}], got {list(images.shape)}")
        return images.detach().to("cpu", torch.float32)
    if isinstance(images, str | Path | Image.Image):
        raise ValueError("images must be a sequence of paths or PIL images (or a tensor), not a single one")
    if not images:
        raise ValueError("no images given")
    pictures = [_prepare(image, k, resolution, align=align, face_index=face_index) for k, image in enumerate(images)]
    return torch.cat([from_pil(picture) for picture in pictures])


def _prepare(image: ImageInput, index: int, resolution: int, *, align: bool, face_index: int) -> Image.Image:
    if isinstance(image, Image.Image):
        picture, label = (image if image.mode == "RGB" else image.convert("RGB")), f"image {index}"
    else:
        picture, label = read_image(image), str(image)
    if not align:
        return center_crop_resize(picture, resolution)
    from stylegan_edit.invert.align import align_face

    try:
        return align_face(picture, output_size=resolution, face_index=face_index).image
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None
