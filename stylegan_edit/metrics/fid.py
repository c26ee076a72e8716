"""Fréchet distance between image sets (FID, Heusel et al., arXiv:1706.08500) in the bundled attribute
classifier's embedding: a SynthFaces-specific FID, NOT Inception FID, so its numbers do not compare with
published FIDs. A real-vs-real baseline of the same size gives the scale; attribute frequencies come along.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from stylegan_edit.classifiers.attributes import AttributeClassifier
from stylegan_edit.editors.sampling import sample_z
from stylegan_edit.generators import AnyGenerator

FEATURE_SPACE = "attribute classifier's feature space"


@dataclass(frozen=True)
class FeatureStats:
    """Mean `[D]` and covariance `[D, D]` (float64) of `num` feature vectors."""

    mean: np.ndarray
    cov: np.ndarray
    num: int

    @classmethod
    def of(cls, features: Tensor) -> FeatureStats:
        """Statistics of features `[N, D]` (N >= 2); the covariance is unbiased, as in NVIDIA's and pytorch-fid."""
        x = features.detach().to("cpu", torch.float64).numpy()
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"need at least 2 feature vectors [N, D], got shape {list(x.shape)}")
        return cls(x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1]), len(x))


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """`|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))` between two Gaussians (>= 0, 0 for equal ones)."""
    import scipy.linalg

    if a.mean.shape != b.mean.shape:
        raise ValueError(f"feature sizes differ: {a.mean.shape[0]} vs {b.mean.shape[0]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # singular covariances: handled below
        root = scipy.linalg.sqrtm(a.cov @ b.cov)
        if not np.isfinite(root).all():  # regularise as pytorch-fid does
            offset = np.eye(len(a.cov)) * 1e-6
            root = scipy.linalg.sqrtm((a.cov + offset) @ (b.cov + offset))
    distance = np.square(a.mean - b.mean).sum() + np.trace(a.cov + b.cov - 2 * np.real(root))
    return max(float(distance), 0.0)


@dataclass(frozen=True)
class Classified:
    """Classifier outputs for a set of images: `features [N, D]` and `logits [N, K]` (CPU, float32)."""

    features: Tensor
    logits: Tensor

    def __len__(self) -> int:
        return len(self.features)

    def frequencies(self) -> Tensor:
        """Share of images whose logit is positive, per head `[K]`."""
        return (self.logits > 0).float().mean(dim=0)

    def label_correlation(self) -> np.ndarray:
        """Pearson correlation `[K, K]` of the heads' binary labels (0 where a head is constant)."""
        labels = (self.logits > 0).double().numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = np.corrcoef(labels, rowvar=False).reshape(labels.shape[1], labels.shape[1])
        return np.nan_to_num(correlation)


@torch.no_grad()
def classify_batches(
    classifier: AttributeClassifier, batches: Iterable[Tensor], *, total: int | None = None, desc: str = "real"
) -> Classified:
    """Run the classifier over image batches `[B, 3, H, W]` in [-1, 1] (any size; it resizes)."""
    features, logits = [], []
    with tqdm(total=total, desc=desc, unit="img", leave=False, disable=total is None) as bar:
        for images in batches:
            f, y = classifier.features_and_logits(images)
            features.append(f.cpu())
            logits.append(y.cpu())
            bar.update(len(images))
    if not features:
        raise ValueError("no images to classify")
    return Classified(torch.cat(features), torch.cat(logits))


def generated_batches(
    generator: AnyGenerator,
    num: int,
    *,
    seed: int = 0,
    batch_size: int = 64,
    truncation_psi: float = 1.0,
    noise_mode: str = "random",
) -> Iterable[Tensor]:
    """Images of `num` z drawn from `RandomState(seed)`, in batches (random noise seeded by `seed`, as NVIDIA's
    FID samples the generator with its default noise)."""
    z = sample_z(generator, num, seed=seed)
    torch.manual_seed(seed)
    with torch.no_grad():
        for start in range(0, num, batch_size):
            ws = generator.mapping(z[start : start + batch_size], truncation_psi=truncation_psi)
            yield generator.synthesis(ws, noise_mode=noise_mode)


def dataset_batches(dataset: Sequence[object], indices: Sequence[int], *, batch_size: int = 64) -> Iterable[Tensor]:
    """Items `indices` of an image dataset (items `[3, H, W]` or `(image, labels)` tuples) in batches."""
    from stylegan_edit.training.data import collate_images

    for start in range(0, len(indices), batch_size):
        yield collate_images([dataset[i] for i in indices[start : start + batch_size]])


@dataclass(frozen=True)
class FIDResult:
    """FID of generated vs real images, the real-vs-real baseline (two disjoint real sets), their ratio, and
    each head's frequency (share of positive logits) among generated and real images."""

    fid: float
    baseline: float
    num: int
    names: tuple[str, ...]
    frequency_generated: tuple[float, ...]
    frequency_real: tuple[float, ...]
    correlation_generated: np.ndarray  # [K, K] label correlations (Classified.label_correlation)
    correlation_real: np.ndarray

    @property
    def ratio(self) -> float:
        return self.fid / self.baseline if self.baseline > 0 else float("inf")

    def frequency_differences(self) -> dict[str, float]:
        """Generated minus real frequency per head."""
        pairs = zip(self.frequency_generated, self.frequency_real, strict=True)
        return {name: g - r for name, (g, r) in zip(self.names, pairs, strict=True)}

    def correlation_gaps(self, top: int = 3) -> list[tuple[str, str, float, float]]:
        """The `top` pairs of heads whose label correlation differs most: (name, name, generated, real).

        The FID's covariance term sees these: a generator that ties two attributes the data keeps independent
        (or breaks a correlation the data has) is far from it even when every frequency is right."""
        generated, real = self.correlation_generated, self.correlation_real
        pairs = [(i, j) for i in range(len(self.names)) for j in range(i + 1, len(self.names))]
        ranked = sorted(pairs, key=lambda pair: -abs(generated[pair] - real[pair]))[:top]
        return [(self.names[i], self.names[j], float(generated[i, j]), float(real[i, j])) for i, j in ranked]


def compare(generated: Classified, real: Classified, other_real: Classified, names: Sequence[str]) -> FIDResult:
    """FID(generated, real), the baseline FID(real, other_real), and frequencies (real: both real sets)."""
    if not len(generated) == len(real) == len(other_real):
        raise ValueError(
            f"the three sets must have the same size (FID depends on it): {len(generated)}, {len(real)}, "
            f"{len(other_real)}"
        )
    real_stats = FeatureStats.of(real.features)
    both_real = Classified(torch.cat([real.features, other_real.features]), torch.cat([real.logits, other_real.logits]))
    return FIDResult(
        fid=frechet_distance(FeatureStats.of(generated.features), real_stats),
        baseline=frechet_distance(real_stats, FeatureStats.of(other_real.features)),
        num=len(generated),
        names=tuple(names),
        frequency_generated=tuple(generated.frequencies().tolist()),
        frequency_real=tuple(both_real.frequencies().tolist()),
        correlation_generated=generated.label_correlation(),
        correlation_real=both_real.label_correlation(),
    )
