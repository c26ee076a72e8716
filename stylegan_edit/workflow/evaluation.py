"""Measuring generators with the SynthFaces attribute classifier, as `stylegan-edit metrics fid | separability` do:
FID (against the real set a model's metadata implies) and linear separability (edits: `workflow.edit_evaluation`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylegan_edit.assets import DEFAULT_NETWORK
from stylegan_edit.classifiers.attributes import AttributeClassifier, load_classifier
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.editors.sampling import Scorer
from stylegan_edit.formats.native import load_network
from stylegan_edit.generators import Network
from stylegan_edit.latents import LatentSpace
from stylegan_edit.metrics.fid import (
    FEATURE_SPACE,
    FIDResult,
    classify_batches,
    compare,
    dataset_batches,
    generated_batches,
)
from stylegan_edit.metrics.separability import Separability, measure_separability
from stylegan_edit.training.data import SYNTHFACES_PREFIX

REAL_SEED_OFFSET = 20_000_000  # far from training seeds (0 ..) and the classifier's held-out seeds (10,000,000 ..)
SYNTHFACES_REAL = ("synthfaces:photo", "synthfaces:toon")
DEFAULT_REAL = "synthfaces:photo"

logger = logging.getLogger(__name__)

NetworkSpec = str | Path | Network | None


def load_measured(spec: NetworkSpec, device: str) -> tuple[Network, str]:
    """The network and the name results record for it."""
    if isinstance(spec, Network):
        spec.generator.to(device)
        return spec, str(spec.metadata.get("name", "in-memory network"))
    return load_network(spec, device=device), str(spec or DEFAULT_NETWORK)


def attribute_scorer(classifier: AttributeClassifier, names: Sequence[str]) -> Scorer:
    """`classifier`'s logits `[N, len(names)]` for the heads `names`, without gradients."""
    columns = [classifier.index(n) for n in names]

    def score(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return classifier(images)[:, columns]

    return score


def synthfaces_style(real: str) -> str | None:
    """The style of a `synthfaces:STYLE` spec (None for a folder); `ValueError` for a style SynthFaces lacks."""
    if not real.startswith(SYNTHFACES_PREFIX):
        return None
    style = real.removeprefix(SYNTHFACES_PREFIX)
    if f"{SYNTHFACES_PREFIX}{style}" not in SYNTHFACES_REAL:
        raise ValueError(f"unknown SynthFaces style {style!r} (use synthfaces:photo or synthfaces:toon)")
    return style


def fid_real_set(metadata: dict[str, str]) -> str:
    """The real set a model is compared with: the SynthFaces style it records as its training `data` (a toon model
    against photo renders would measure the style change, not the model), else `synthfaces:photo`."""
    trained_on = metadata.get("data", "")
    return trained_on if trained_on in SYNTHFACES_REAL else DEFAULT_REAL


@dataclass(frozen=True)
class FIDReport:
    """A classifier-space FID (NOT Inception FID) with its real-vs-real baseline: the result, the real set's spec
    and description, the network's name, the resolution, and notes (e.g. a folder too small for `num`)."""

    result: FIDResult
    network: str
    real: str
    real_description: str
    resolution: int
    notes: tuple[str, ...] = ()

    def document(self) -> dict[str, Any]:
        """The JSON document `metrics fid --json` writes."""
        r = self.result
        return {
            "metric": "fid",
            "feature_space": FEATURE_SPACE,
            "note": "NOT Inception FID; compare with baseline_fid only",
            "network": self.network,
            "real": self.real,
            "num": r.num,
            "fid": r.fid,
            "baseline_fid": r.baseline,
            "ratio": r.ratio,
            "frequency_generated": dict(zip(r.names, r.frequency_generated, strict=True)),
            "frequency_real": dict(zip(r.names, r.frequency_real, strict=True)),
            "label_correlation_gaps": [
                {"attributes": [a, b], "generated": g, "real": real} for a, b, g, real in r.correlation_gaps()
            ],
        }


def fid(
    network: NetworkSpec = None,
    *,
    num: int = 5000,
    real: str | None = None,
    truncation_psi: float = 1.0,
    classifier: str | Path | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = False,
) -> FIDReport:
    """FID between `num` generated and `num` real images in the attribute classifier's feature space, with the FID
    between two disjoint real sets of `num` as its baseline.

    real: `synthfaces:photo` / `synthfaces:toon` (fresh renders, seeds from `REAL_SEED_OFFSET`) or a folder of
    images (a random `2 num` of them, fewer when it holds fewer); None: `fid_real_set(network.metadata)`.
    classifier: a classifier file (default: the bundled one).
    """
    if real is not None:
        synthfaces_style(real)  # refuse a bad style before loading anything
    loaded, name = load_measured(network, device)
    real = real or fid_real_set(loaded.metadata)
    style = synthfaces_style(real)
    scorer = load_classifier(classifier, device=device)
    resolution = loaded.generator.img_resolution
    notes = []
    if style is not None:
        from stylegan_edit.data import SynthFaces

        real_set: Any = SynthFaces(
            2 * num, size=resolution, style="toon" if style == "toon" else "photo", seed_offset=REAL_SEED_OFFSET
        )
        order = list(range(2 * num))
        description = f"{real} renders, seeds from {REAL_SEED_OFFSET:,}"
    else:
        from stylegan_edit.training.data import ImageFolder

        real_set = ImageFolder(real, resolution)
        available = len(real_set) // 2
        if available < 2:
            raise ValueError(f"{real}: {len(real_set)} images; FID and its baseline need at least 4")
        if available < num:
            notes.append(f"{real} holds {len(real_set)} images, so each set has {available} images")
            logger.info(notes[-1])
            num = available
        order = np.random.RandomState(seed).permutation(len(real_set))[: 2 * num].tolist()
        description = real_set.summary()
    total = num if progress else None  # no total: no progress bar
    batches = generated_batches(loaded.generator, num, seed=seed, batch_size=batch_size, truncation_psi=truncation_psi)
    generated = classify_batches(scorer, batches, total=total, desc="generated")
    real_a = classify_batches(scorer, dataset_batches(real_set, order[:num], batch_size=batch_size), total=total)
    real_b = classify_batches(scorer, dataset_batches(real_set, order[num:], batch_size=batch_size), total=total)
    result = compare(generated, real_a, real_b, scorer.attribute_names)
    return FIDReport(result, name, real, description, resolution, tuple(notes))


@dataclass(frozen=True)
class SeparabilityReport:
    """Linear separability per latent space (lower is better, 1 is perfect) over `num` samples."""

    network: str
    num: int
    spaces: dict[LatentSpace, Separability]

    def document(self) -> dict[str, Any]:
        """The JSON document `metrics separability --json` writes."""
        scores = {s.value: {"score": r.score, "entropies": r.entropies} for s, r in self.spaces.items()}
        return {"metric": "separability", "network": self.network, "num": self.num, **scores}


def separability(
    network: NetworkSpec = None,
    *,
    num: int = 10_000,
    spaces: Sequence[LatentSpace | str] = (LatentSpace.Z, LatentSpace.W),
    classifier: str | Path | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
) -> SeparabilityReport:
    """Linear separability (StyleGAN paper) of the seven SynthFaces attributes, which the classifier labels on
    `num` samples, in each of `spaces` (Z and/or W; the same samples for both)."""
    loaded, name = load_measured(network, device)
    scorer = attribute_scorer(load_classifier(classifier, device=device), ATTRIBUTES)
    results = measure_separability(loaded.generator, scorer, num, names=ATTRIBUTES, seed=seed, batch_size=batch_size)
    return SeparabilityReport(name, num, {LatentSpace(s): results[LatentSpace(s)] for s in spaces})
