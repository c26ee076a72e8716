"""Real face photos that installed packages ship, for inversion benchmarks: scikit-image's astronaut (Eileen
Collins, 512x512 colour) and the face half of `skimage.data.lfw_subset` (Labeled Faces in the Wild crops, 25x25
grey). Searched and not faces: scipy's `face` (a raccoon), scikit-learn's sample images (a temple, a flower),
the other skimage images (the cameraman's face is too small for dlib), gradio's media (no face dlib finds).
"""

from __future__ import annotations

from PIL import Image

LFW_FACES = 100  # lfw_subset holds 100 faces, then 100 non-faces


def astronaut() -> Image.Image:
    """skimage's astronaut photo, 512x512 RGB."""
    from skimage import data

    return Image.fromarray(data.astronaut())


def lfw_faces(num: int) -> list[Image.Image]:
    """The first `num` (at most 100) faces of `skimage.data.lfw_subset`: 25x25 grey crops, as RGB images."""
    import numpy as np
    from skimage import data

    if not 0 <= num <= LFW_FACES:
        raise ValueError(f"lfw_subset holds {LFW_FACES} faces, asked for {num}")
    faces = data.lfw_subset()[:num]
    return [Image.fromarray(np.round(face * 255).astype(np.uint8)).convert("RGB") for face in faces]
