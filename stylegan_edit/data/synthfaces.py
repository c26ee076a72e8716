"""SynthFaces as a torch dataset rendered on the fly, and as a folder of PNGs with a labels file.

Sample `i` uses seed `seed_offset + i`: `sample_factors(np.random.default_rng(seed))` gives its factors and the
same seed drives its texture noise, so an index always renders the same image.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from tqdm import tqdm

from stylegan_edit.data.factors import ATTRIBUTES, FaceFactors, sample_factors
from stylegan_edit.data.render import STYLES, Style, check_size, render_face
from stylegan_edit.files import atomic_path
from stylegan_edit.images import from_pil, save_pil

LABELS_FILE = "labels.json"
LABELS_FORMAT = "synthfaces-labels"
LABELS_FORMAT_VERSION = 1

logger = logging.getLogger(__name__)


def face_factors(seed: int) -> FaceFactors:
    """The factors of the face with this seed."""
    return sample_factors(np.random.default_rng(seed))


def render_seed(seed: int, *, size: int = 64, style: Style = "photo") -> tuple[FaceFactors, Image.Image]:
    """Factors and PIL image of the face with this seed."""
    factors = face_factors(seed)
    return factors, render_face(factors, size=size, style=style, noise_seed=seed)


class SynthFaces(Dataset[tuple[Tensor, Tensor]]):
    """`num` procedural faces; item `i` is `(image [3, size, size] float in [-1, 1], labels [7] int64)`.

    Labels follow `ATTRIBUTES` order. Rendering happens in `__getitem__`, so use DataLoader workers for speed.
    """

    def __init__(self, num: int, *, size: int = 64, style: Style = "photo", seed_offset: int = 0) -> None:
        check_size(size)
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
        if num < 0 or seed_offset < 0:
            raise ValueError(f"num and seed_offset must be non-negative, got {num} and {seed_offset}")
        self.num = num
        self.size = size
        self.style = style
        self.seed_offset = seed_offset

    def __len__(self) -> int:
        return self.num

    def seed(self, index: int) -> int:
        """Seed of item `index` (negative indices count from the end)."""
        if index < 0:
            index += self.num
        if not 0 <= index < self.num:
            raise IndexError(f"index {index} out of range for {self.num} faces")
        return self.seed_offset + index

    def factors(self, index: int) -> FaceFactors:
        """Ground-truth factors of item `index`."""
        return face_factors(self.seed(index))

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        seed = self.seed(index)
        factors, image = render_seed(seed, size=self.size, style=self.style)
        return from_pil(image)[0], torch.from_numpy(factors.labels().astype(np.int64))


def write_dataset(
    outdir: str | Path,
    num: int,
    *,
    style: Style = "photo",
    size: int = 64,
    seed_offset: int = 0,
    progress: bool = True,
) -> Path:
    """Write `num` faces as `outdir/00000000.png`, ... and `outdir/labels.json`; return the labels file's path.

    `labels.json` holds the attribute names, and per image its file name, seed, binary labels, continuous values
    (both in `ATTRIBUTES` order) and every factor. Each file is written atomically (temporary file, then rename).
    Raises `ValueError` for a bad size or style and `OSError` when `outdir` cannot be written.
    """
    check_size(size)
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create output folder {outdir}: {exc.strerror}") from None
    entries = []
    for index in tqdm(range(num), desc="synthfaces", unit="img", disable=not progress):
        seed = seed_offset + index
        factors, image = render_seed(seed, size=size, style=style)
        name = f"{index:08d}.png"
        save_pil(image, outdir / name)
        entries.append(
            {
                "file": name,
                "seed": seed,
                "labels": factors.labels().tolist(),
                "continuous": [round(v, 6) for v in factors.continuous().tolist()],
                "factors": factors.to_dict(),
            }
        )
    document = {
        "format": LABELS_FORMAT,
        "format_version": LABELS_FORMAT_VERSION,
        "style": style,
        "size": size,
        "seed_offset": seed_offset,
        "attributes": list(ATTRIBUTES),
        "images": entries,
    }
    labels_path = outdir / LABELS_FILE
    with atomic_path(labels_path) as tmp:
        tmp.write_text(json.dumps(document))
    logger.info("wrote %d faces and %s", num, labels_path)
    return labels_path


def read_labels(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Attribute names, binary labels int8 `[N, 7]` and continuous values float32 `[N, 7]` from a labels file."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON file ({exc.msg})") from None
    if document.get("format") != LABELS_FORMAT or document.get("format_version") != LABELS_FORMAT_VERSION:
        raise ValueError(f"{path}: not a {LABELS_FORMAT} v{LABELS_FORMAT_VERSION} file; write it with write_dataset")
    images = document["images"]
    labels = np.array([e["labels"] for e in images], dtype=np.int8).reshape(len(images), -1)
    continuous = np.array([e["continuous"] for e in images], dtype=np.float32).reshape(len(images), -1)
    return list(document["attributes"]), labels, continuous
