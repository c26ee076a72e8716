"""Measuring a fine-tune on a small folder (ADA, arXiv:2006.06676): KID (arXiv:1801.01401) and FID in the attribute
classifier's feature space (NOT Inception's) and PGGAN's MS-SSIM diversity (arXiv:1710.10196), for a network or for
every snapshot of a training run (`snapshot_metrics.jsonl`, with the augmentation probability)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from stylegan_edit.classifiers.attributes import AttributeClassifier, load_classifier
from stylegan_edit.metrics.fid import (
    FeatureStats,
    classify_batches,
    dataset_batches,
    frechet_distance,
    generated_batches,
)
from stylegan_edit.metrics.kid import kernel_distance
from stylegan_edit.metrics.ms_ssim import ms_ssim_diversity
from stylegan_edit.training import Progress, Trainer
from stylegan_edit.training.loop import append_record
from stylegan_edit.workflow.evaluation import REAL_SEED_OFFSET, NetworkSpec, load_measured, synthfaces_style

SNAPSHOT_METRICS_FILE = "snapshot_metrics.jsonl"
DEFAULT_SNAPSHOT_NUM = 64  # generated images per snapshot of a fine-tune: about a second on one CPU core
MAX_REAL = 1000  # real images a snapshot is compared with (a random subset of a bigger dataset)


@contextmanager
def own_rng(device: torch.device) -> Iterator[None]:
    """Leave the global torch RNG (which `metrics.fid.generated_batches` seeds) as it was, e.g. inside training."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        yield


def stacked(batches: Iterable[Tensor]) -> Tensor:
    """Image batches in [-1, 1] as one CPU tensor `[N, C, H, W]` (generated images clamped to the range)."""
    return torch.cat([batch.clamp(-1, 1).cpu() for batch in batches])


def real_images(dataset: Sequence[Any], num: int, *, seed: int = 0) -> Tensor:
    """`min(num, len(dataset))` dataset images `[N, C, H, W]` in [-1, 1], a random subset fixed by `seed`."""
    order = np.random.RandomState(seed).permutation(len(dataset))[:num].tolist()
    return torch.cat(list(dataset_batches(dataset, order)))


def _features(classifier: AttributeClassifier, images: Tensor, batch_size: int = 64) -> Tensor:
    device = next(classifier.parameters()).device
    return classify_batches(classifier, (b.to(device) for b in images.split(batch_size))).features


@dataclass(frozen=True)
class SmallDataReport:
    """KID, FID (None when either set is too small for a covariance) and MS-SSIM diversity of `num` generated
    images against `num_real` real ones, with the real images' own MS-SSIM as the reference."""

    network: str
    real: str
    num: int
    num_real: int
    kid: float
    fid: float | None
    ms_ssim: float
    ms_ssim_real: float

    def document(self) -> dict[str, Any]:
        return {
            "metric": "small-data",
            "feature_space": "attribute classifier's feature space (NOT Inception)",
            **{k: getattr(self, k) for k in ("network", "real", "num", "num_real", "kid", "fid", "ms_ssim")},
            "ms_ssim_real": self.ms_ssim_real,
        }


def small_data_metrics(
    network: NetworkSpec = None,
    *,
    real: str,
    num: int = 1000,
    num_real: int | None = None,
    classifier: str | Path | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> SmallDataReport:
    """KID, FID and MS-SSIM diversity of `num` images of `network` against `num_real` (default `num`) real ones.

    real: `synthfaces:photo` / `synthfaces:toon` (fresh renders, seeds from `REAL_SEED_OFFSET`) or an image folder
    (a random subset when it holds more). FID needs more images than features (128) in each set.
    """
    from stylegan_edit.training.data import open_dataset

    loaded, name = load_measured(network, device)
    num_real = num_real or num
    resolution = loaded.generator.img_resolution
    style = synthfaces_style(real)
    if style is not None:
        from stylegan_edit.data import SynthFaces

        dataset: Any = SynthFaces(
            num_real, size=resolution, style="toon" if style == "toon" else "photo", seed_offset=REAL_SEED_OFFSET
        )
    else:
        dataset = open_dataset(real, resolution)
    scorer = load_classifier(classifier, device=device)
    reals = real_images(dataset, num_real, seed=seed)
    with own_rng(torch.device(device)):
        fakes = stacked(generated_batches(loaded.generator, num, seed=seed))
    real_features, fake_features = _features(scorer, reals), _features(scorer, fakes)
    fid = None
    if min(len(reals), len(fakes)) > real_features.shape[1]:
        fid = frechet_distance(FeatureStats.of(fake_features), FeatureStats.of(real_features))
    return SmallDataReport(
        network=name,
        real=real,
        num=len(fakes),
        num_real=len(reals),
        kid=kernel_distance(fake_features, real_features, seed=seed),
        fid=fid,
        ms_ssim=ms_ssim_diversity(fakes, seed=seed),
        ms_ssim_real=ms_ssim_diversity(reals, seed=seed),
    )


class SnapshotMetrics:
    """KID and MS-SSIM of a run's G_ema against its own training data, computed when a snapshot is written.

    num: generated images per snapshot (the real side: up to `MAX_REAL` training images, measured once).
    """

    def __init__(self, trainer: Trainer, *, num: int = DEFAULT_SNAPSHOT_NUM, seed: int = 0) -> None:
        if num < 2:
            raise ValueError(f"snapshot metrics need at least 2 generated images, got {num}")
        self.trainer = trainer
        self.num = num
        self.seed = seed
        self._classifier: AttributeClassifier | None = None
        self._real: tuple[Tensor, float] | None = None

    def _reference(self) -> tuple[AttributeClassifier, Tensor, float]:
        if self._classifier is None or self._real is None:
            self._classifier = load_classifier(device=self.trainer.device)
            reals = real_images(self.trainer.dataset, MAX_REAL, seed=self.seed)  # type: ignore[arg-type]
            self._real = (_features(self._classifier, reals), ms_ssim_diversity(reals, seed=self.seed))
        return self._classifier, *self._real

    def record(self, snapshot: Path) -> dict[str, Any]:
        """The line `snapshot_metrics.jsonl` gets for the snapshot just written."""
        classifier, real_features, real_ms_ssim = self._reference()
        with own_rng(self.trainer.device):
            fakes = stacked(generated_batches(self.trainer.generator_ema, self.num, seed=self.seed))
        return {
            "kimg": round(self.trainer.cur_nimg / 1000, 6),
            "snapshot": snapshot.name,
            "augment_p": self.trainer.augment_p,
            "kid": kernel_distance(_features(classifier, fakes), real_features, seed=self.seed),
            "ms_ssim": ms_ssim_diversity(fakes, seed=self.seed),
            "ms_ssim_real": real_ms_ssim,
            "num": self.num,
            "num_real": len(real_features),
        }


def with_snapshot_metrics(steps: Iterator[Progress], metrics: SnapshotMetrics, run_dir: Path) -> Iterator[Progress]:
    """`steps` with a line appended to `run_dir/snapshot_metrics.jsonl` after each network snapshot (listed in the
    step's `written`)."""
    for progress in steps:
        snapshots = [path for path in progress.written if path.name.startswith("network-snapshot-")]
        if snapshots:
            path = append_record(run_dir / SNAPSHOT_METRICS_FILE, metrics.record(snapshots[-1]))
            progress = replace(progress, written=[*progress.written, path])
        yield progress
