"""Linear separability: planted separable latents score its minimum, 1; random labels score far more."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan_edit.generators import Generator
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.metrics.separability import conditional_entropy, linear_separability, measure_separability


def test_conditional_entropy_of_known_tables() -> None:
    labels = np.array([0, 0, 1, 1])
    assert conditional_entropy(labels, labels) == 0.0
    assert conditional_entropy(labels, np.array([0, 1, 0, 1])) == pytest.approx(math.log(2))


def test_planted_separable_latents_score_near_one() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 16, generator=gen)
    normals = torch.randn(16, 3, generator=gen)
    logits = 4 * (x @ normals)
    result = linear_separability(Latents(x, LatentSpace.W), logits, names=["age", "smile", "beard"])
    assert result.score == pytest.approx(1.0, abs=0.05)
    assert set(result.entropies) == {"age", "smile", "beard"}
    random_logits = torch.randn(2000, 3, generator=gen)
    noise = linear_separability(Latents(x, LatentSpace.Z), random_logits)
    assert noise.score > 4.0  # near 2^3: an SVM cannot predict random labels


def test_measure_separability_scores_z_and_w(tiny_generator: Generator) -> None:
    def classifier(images: torch.Tensor) -> torch.Tensor:
        return torch.stack([images.mean(dim=(1, 2, 3)), images[:, 0].mean(dim=(1, 2))], dim=1) * 10

    result = measure_separability(tiny_generator, classifier, 200, batch_size=100)
    assert set(result) == {LatentSpace.Z, LatentSpace.W}
    assert all(1.0 <= r.score <= 4.0 + 1e-6 for r in result.values())
