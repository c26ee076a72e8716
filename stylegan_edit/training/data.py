"""Training data: a recursive image folder, SynthFaces rendered on the fly, and a data order fixed by the step.

The images of step `s` are items `s * batch ... (s + 1) * batch - 1` of an endless sequence of per-epoch
permutations seeded by `(seed, epoch)`, so an interrupted and resumed run reads exactly what an uninterrupted
one reads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from stylegan_edit.images import center_crop_resize, from_pil, read_image

logger = logging.getLogger(__name__)

SYNTHFACES_PREFIX = "synthfaces:"
DEFAULT_SYNTHFACES_NUM = 50_000
CACHE_BYTES = 1 << 30


def image_suffixes() -> set[str]:
    """Lower-case file suffixes that PIL can open (`.png`, `.jpg`, `.tif`, ...)."""
    Image.init()
    return {suffix.lower() for suffix in Image.registered_extensions()}


class ImageFolder(Dataset[Tensor]):
    """Every image file under `root` (recursively), centre-cropped and resized; item `[3, r, r]` in [-1, 1].

    Files are decoded once while scanning (grayscale, RGBA, CMYK and 16-bit become RGB); unreadable ones are
    skipped and listed in `skipped` as `(path, reason)`. Up to `cache_bytes` of resized pixels stay in memory.
    Raises `ValueError` when the folder is missing or holds no usable image.
    """

    def __init__(self, root: str | Path, resolution: int, *, cache_bytes: int = CACHE_BYTES) -> None:
        self.root = Path(root)
        self.resolution = resolution
        if not self.root.exists():
            raise ValueError(f"{self.root}: no such folder")
        if not self.root.is_dir():
            raise ValueError(f"{self.root} is not a folder (pass a folder of images or synthfaces:photo)")
        suffixes = image_suffixes()
        candidates = sorted(
            p
            for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        )
        if not candidates:
            raise ValueError(f"{self.root}: no image files found (looked for .png, .jpg, .webp, ... recursively)")
        self.paths: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        cache = len(candidates) * 3 * resolution * resolution <= cache_bytes
        pixels: list[np.ndarray] = []
        for path in candidates:
            try:
                image = center_crop_resize(read_image(path), resolution)
            except ValueError as exc:
                self.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            self.paths.append(path)
            if cache:
                pixels.append(np.asarray(image, dtype=np.uint8))
        if not self.paths:
            path, reason = self.skipped[0]
            raise ValueError(
                f"{self.root}: none of the {len(candidates)} image files could be read ({path.name}: {reason})"
            )
        self._pixels = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2) if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tensor:
        if self._pixels is not None:
            return self._pixels[index].to(torch.float32) / 127.5 - 1
        return from_pil(center_crop_resize(read_image(self.paths[index]), self.resolution))[0]

    def summary(self) -> str:
        """One line: how many images were found and which files were skipped."""
        line = f"{len(self.paths)} images from {self.root} at {self.resolution}x{self.resolution}"
        if self.skipped:
            shown = "; ".join(f"{p.relative_to(self.root)}: {reason}" for p, reason in self.skipped[:2])
            more = f"; and {len(self.skipped) - 2} more" if len(self.skipped) > 2 else ""
            line += f" (skipped {len(self.skipped)} unreadable files: {shown}{more})"
        return line


def open_dataset(spec: str, resolution: int, *, synthfaces_num: int = DEFAULT_SYNTHFACES_NUM) -> Dataset[Any]:
    """`synthfaces:photo` / `synthfaces:toon` (rendered on the fly, `synthfaces_num` faces) or an image folder."""
    if spec.startswith(SYNTHFACES_PREFIX):
        from stylegan_edit.data import SynthFaces

        style = spec.removeprefix(SYNTHFACES_PREFIX)
        if style not in ("photo", "toon"):
            raise ValueError(
                f"unknown SynthFaces style {style!r} in {spec!r} (use synthfaces:photo or synthfaces:toon)"
            )
        return SynthFaces(synthfaces_num, size=resolution, style="toon" if style == "toon" else "photo")
    return ImageFolder(spec, resolution)


def describe_dataset(dataset: Dataset[Any], spec: str) -> str:
    """A one-line description for the progress log."""
    if isinstance(dataset, ImageFolder):
        return dataset.summary()
    return f"{len(dataset)} images from {spec}"  # type: ignore[arg-type]


def collate_images(items: Sequence[Any]) -> Tensor:
    """Stack dataset items into `[N, 3, H, W]`; a tuple item (SynthFaces' `(image, labels)`) gives its image."""
    return torch.stack([item[0] if isinstance(item, tuple | list) else item for item in items])


class StepBatches(Sampler[list[int]]):
    """Dataset indices for steps `start_step, start_step + 1, ...`: this process's slice of each global batch."""

    def __init__(
        self, num_items: int, batch: int, *, seed: int, start_step: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        if num_items < 1:
            raise ValueError("the dataset is empty")
        if batch % world_size:
            raise ValueError(f"batch {batch} must be divisible by the number of processes ({world_size})")
        self.num_items = num_items
        self.batch = batch
        self.seed = seed
        self.start_step = start_step
        self.rank = rank
        self.world_size = world_size
        self._epoch = -1
        self._order = np.arange(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
            self._epoch = epoch
        return self._order

    def indices(self, step: int) -> list[int]:
        """The dataset indices this process reads at `step`."""
        per_rank = self.batch // self.world_size
        first = step * self.batch + self.rank * per_rank
        out = []
        for position in range(first, first + per_rank):
            epoch, offset = divmod(position, self.num_items)
            out.append(int(self._permutation(epoch)[offset]))
        return out

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield self.indices(step)
            step += 1


def step_loader(
    dataset: Dataset[Any],
    batch: int,
    *,
    seed: int,
    start_step: int,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> Iterator[Tensor]:
    """This process's images `[batch / world_size, C, H, W]` for steps `start_step, start_step + 1, ...` (the
    order `StepBatches` fixes), loaded by `num_workers` processes."""
    sampler = StepBatches(
        len(dataset),  # type: ignore[arg-type]
        batch,
        seed=seed,
        start_step=start_step,
        rank=rank,
        world_size=world_size,
    )
    return iter(DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_images, num_workers=num_workers))
