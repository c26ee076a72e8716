"""Face identity between two photos, or between the same-named photos of two folders, as `stylegan-edit metrics
identity` measures it: the cosine similarity of dlib's face descriptors (`perceptual.identity`)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylegan_edit.images import read_image
from stylegan_edit.perceptual.identity import IDENTITY_MEASURE, descriptor_similarity, face_descriptors
from stylegan_edit.training.data import image_suffixes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityPair:
    """One compared pair: its name (the file stem in folder mode), both files, and the similarity in [-1, 1], or
    None with `missing` naming the file(s) in which dlib finds no face."""

    name: str
    a: Path
    b: Path
    similarity: float | None
    missing: tuple[Path, ...] = ()


@dataclass(frozen=True)
class IdentityReport:
    """The compared pairs, what the numbers are (`measure`) and notes (files without a partner)."""

    pairs: tuple[IdentityPair, ...]
    measure: str = IDENTITY_MEASURE
    notes: tuple[str, ...] = ()

    @property
    def mean(self) -> float | None:
        """The mean similarity over the pairs in which both faces were found (None when none was)."""
        found = [p.similarity for p in self.pairs if p.similarity is not None]
        return math.fsum(found) / len(found) if found else None

    def document(self) -> dict[str, Any]:
        """The JSON document `metrics identity --json` writes."""
        return {
            "metric": "identity",
            "measure": self.measure,
            "mean": self.mean,
            "pairs": [
                {
                    "name": p.name,
                    "a": str(p.a),
                    "b": str(p.b),
                    "identity": p.similarity,
                    "no_face": [str(m) for m in p.missing],
                }
                for p in self.pairs
            ],
            "notes": list(self.notes),
        }


def identity(a: str | Path, b: str | Path) -> IdentityReport:
    """Identity similarity of two image files, or of the images of two folders paired by file stem.

    Two files: a one-line `ValueError` when dlib finds no face in either. Two folders: pairs without a face are
    reported with `similarity` None; files without a partner are noted; a `ValueError` when no pair remains or
    no pair shows two faces.
    """
    a, b = Path(a), Path(b)
    for path in (a, b):
        if not path.exists():
            raise ValueError(f"{path}: no such file or folder")
    if a.is_dir() != b.is_dir():
        raise ValueError(f"compare two image files or two folders, not {a} and {b}")
    if not a.is_dir():
        pair = _compare([(a.stem, a, b)])[0]
        if pair.similarity is None:
            raise ValueError(f"{', '.join(map(str, pair.missing))}: no face found (dlib's frontal face detector)")
        return IdentityReport((pair,))
    files_a, files_b = _images_by_stem(a), _images_by_stem(b)
    common = sorted(set(files_a) & set(files_b))
    if not common:
        raise ValueError(f"{a} and {b} hold no images of the same name")
    notes = [
        f"{folder}: {len(names)} image(s) without a partner, skipped"
        for folder, names in ((a, set(files_a) - set(files_b)), (b, set(files_b) - set(files_a)))
        if names
    ]
    for note in notes:
        logger.info(note)
    pairs = _compare([(name, files_a[name], files_b[name]) for name in common])
    if all(p.similarity is None for p in pairs):
        raise ValueError(f"no face found in any pair of {a} and {b} (dlib's frontal face detector)")
    return IdentityReport(tuple(pairs), notes=tuple(notes))


def _images_by_stem(folder: Path) -> dict[str, Path]:
    suffixes = image_suffixes()
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in files:
                raise ValueError(f"{folder}: {files[path.stem].name} and {path.name} share a name; keep one")
            files[path.stem] = path
    return files


def _compare(named: list[tuple[str, Path, Path]]) -> list[IdentityPair]:
    pairs = []
    for name, a, b in named:  # one pair in memory at a time
        da, db = face_descriptors([read_image(a), read_image(b)])
        missing = tuple(path for path, d in ((a, da), (b, db)) if d is None)
        similarity = None if da is None or db is None else descriptor_similarity(da, db)
        pairs.append(IdentityPair(name, a, b, similarity, missing))
    return pairs
