"""Sampled latents with attribute scores, the input of InterFaceGAN, GANSpace and the separability metric.

A scorer is any callable `images [N, 3, H, W] in [-1, 1] -> scores [N]` (or `[N, K]` for K attributes);
scores may also come from a file (`.npy`, or `.csv` with an optional header naming the attributes).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace, seed_z

Scorer = Callable[[Tensor], Tensor]


@dataclass(frozen=True, eq=False)
class ScoredSamples:
    """Latents (Z or W) with their scores `[N, K]` and one name per score column."""

    latents: Latents
    scores: Tensor
    names: tuple[str, ...]


def sample_z(generator: AnyGenerator, num: int, *, seed: int = 0) -> Tensor:
    """`z [num, z_dim]` from `RandomState(seed)`, float32 on the generator's device."""
    return seed_z(seed, generator.z_dim, num).to(generator.device)


@torch.no_grad()
def sample_latents(
    generator: AnyGenerator,
    num: int,
    *,
    space: LatentSpace | str = LatentSpace.W,
    seed: int = 0,
    truncation_psi: float = 1.0,
    batch_size: int = 256,
) -> Latents:
    """`num` latents in Z `[num, z_dim]` or W `[num, w_dim]` (the mapping of the same z), on the CPU."""
    space = LatentSpace(space)
    if space is LatentSpace.W_PLUS:
        raise ValueError("sample in z or w; W+ codes of sampled images repeat one w per layer")
    z = sample_z(generator, num, seed=seed)
    if space is LatentSpace.Z:
        return Latents(z.cpu(), space)
    ws = [
        generator.mapping(z[i : i + batch_size], truncation_psi=truncation_psi)[:, 0].cpu()
        for i in range(0, num, batch_size)
    ]
    return Latents(torch.cat(ws), space)


@torch.no_grad()
def sample_and_score(
    generator: AnyGenerator,
    scorer: Scorer,
    num: int,
    *,
    space: LatentSpace | str = LatentSpace.W,
    seed: int = 0,
    batch_size: int = 32,
    names: Sequence[str] | None = None,
    noise_mode: str = "const",
) -> ScoredSamples:
    """Draw `num` z, render their images, score them with `scorer`; return the latents in `space` with the scores.

    scores: `[num, K]` float32 (a scorer returning `[N]` gives K = 1).
    """
    space = LatentSpace(space)
    if space is LatentSpace.W_PLUS:
        raise ValueError("sample in z or w")
    z = sample_z(generator, num, seed=seed)
    latents, scores = [], []
    for start in range(0, num, batch_size):
        z_batch = z[start : start + batch_size]
        ws = generator.mapping(z_batch)
        images = generator.synthesis(ws, noise_mode=noise_mode)
        batch_scores = torch.as_tensor(scorer(images)).detach().to("cpu", torch.float32)
        if batch_scores.ndim == 1:
            batch_scores = batch_scores.unsqueeze(1)
        if batch_scores.ndim != 2 or batch_scores.shape[0] != len(z_batch):
            raise ValueError(f"the scorer must return [N] or [N, K] scores, got shape {list(batch_scores.shape)}")
        scores.append(batch_scores)
        latents.append((z_batch if space is LatentSpace.Z else ws[:, 0]).cpu())
    values = torch.cat(scores)
    return ScoredSamples(Latents(torch.cat(latents), space), values, _names(names, values.shape[1], "score"))


def load_scores(path: str | Path, *, num_latents: int | None = None) -> tuple[Tensor, tuple[str, ...]]:
    """Scores `[N, K]` float32 and their names from `.npy` (`[N]` or `[N, K]`) or `.csv` (header optional).

    Without a header the columns are named after the file (`smile`, or `smile0`, `smile1`, ...).
    num_latents: when given, the number of rows must match it.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such scores file")
    header: list[str] | None = None
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a readable .npy file: {exc}") from None
    elif path.suffix.lower() == ".csv":
        header, array = _read_csv(path)
    else:
        raise ValueError(f"{path}: scores must be a .npy or .csv file")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{path}: scores must be numbers shaped [N] or [N, K], got shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{path}: scores contain NaN or infinite values")
    if num_latents is not None and array.shape[0] != num_latents:
        raise ValueError(f"{path} has {array.shape[0]} scores but there are {num_latents} latents; they must match")
    return torch.from_numpy(array.astype(np.float32)), _names(header, array.shape[1], path.stem)


def _read_csv(path: Path) -> tuple[list[str] | None, np.ndarray]:
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path}: the scores file is empty")
    header = None
    try:
        float(rows[0][0])
    except ValueError:
        header, rows = [cell.strip() for cell in rows[0]], rows[1:]
    try:
        array = np.array([[float(cell) for cell in row] for row in rows], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: cannot read scores ({exc})") from None
    if header is not None and array.ndim == 2 and array.shape[1] != len(header):
        raise ValueError(f"{path}: the header names {len(header)} columns, the rows have {array.shape[1]}")
    return header, array


def _names(names: Sequence[str] | None, count: int, stem: str) -> tuple[str, ...]:
    if names is not None:
        if len(names) != count:
            raise ValueError(f"{len(names)} names for {count} score columns")
        return tuple(names)
    return (stem,) if count == 1 else tuple(f"{stem}{i}" for i in range(count))


def attribute_scorer(attributes: Sequence[str], *, device: torch.device | str = "cpu") -> Scorer:
    """The bundled SynthFaces attribute classifier as a scorer: logits `[N, len(attributes)]`, in the given order.

    attributes: names among the classifier's heads (the seven SynthFaces attributes and `toon`, the style).
    Raises a one-line `ValueError` for an unknown name or when the classifier is not installed.
    """
    from stylegan_edit.classifiers.attributes import BUNDLED_CLASSIFIER, load_classifier

    if not BUNDLED_CLASSIFIER.is_file():
        raise ValueError(
            "the bundled attribute classifier is not in this installation; "
            "score images yourself and pass --scores FILE with --latents FILE"
        )
    classifier = load_classifier(device=device)
    columns = [classifier.index(name) for name in attributes]
    if not columns:
        raise ValueError("name at least one attribute to score")

    def score(images: Tensor) -> Tensor:
        with torch.no_grad():
            return classifier(images)[:, columns]

    return score
