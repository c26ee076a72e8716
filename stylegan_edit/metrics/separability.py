"""Linear separability (StyleGAN, arXiv:1812.04948 §4.2): how well a linear SVM on the latents reproduces the
labels an attribute classifier gives the images, as `exp(sum_i H(Y_i | X_i))` over attributes (1 is perfect).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from stylegan_edit.editors.sampling import Scorer, sample_and_score
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace


@dataclass(frozen=True)
class Separability:
    """The score `exp(sum of conditional entropies)` and each attribute's `H(Y|X)` in nats.

    exp of nats equals NVIDIA's `2 ** sum` of entropies in bits, so scores compare with the paper's.
    """

    score: float
    entropies: dict[str, float]


def conditional_entropy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """`H(Y | X)` in nats for binary labels Y and binary predictions X (both `[N]` of 0/1)."""
    entropy = 0.0
    total = len(labels)
    for x in (0, 1):
        given = labels[predictions == x]
        if len(given) == 0:
            continue
        for y in (0, 1):
            p_joint = float(np.sum(given == y)) / total
            if p_joint > 0:
                entropy -= p_joint * math.log(p_joint / (len(given) / total))
    return entropy


def linear_separability(
    latents: Latents,
    logits: Tensor,
    *,
    names: Sequence[str] | None = None,
    keep_fraction: float = 0.5,
    svm_c: float = 1.0,
    max_iter: int = 10_000,
) -> Separability:
    """Score Z `[N, z_dim]` or W `[N, w_dim]` latents against classifier logits `[N, K]` (label = logit > 0).

    Per attribute: keep the `keep_fraction` most confident samples (largest |logit|), fit a linear SVM on their
    latents to the labels, and measure the entropy of the labels given the SVM's predictions on those samples.
    """
    from sklearn.svm import LinearSVC

    if latents.space is LatentSpace.W_PLUS:
        raise ValueError("linear separability is measured in Z or W")
    logits = torch.as_tensor(logits, dtype=torch.float32)
    if logits.ndim not in (1, 2) or logits.shape[0] != len(latents):
        raise ValueError(f"{len(latents)} latents but logits of shape {list(logits.shape)}; the counts must match")
    if logits.ndim == 1:
        logits = logits.unsqueeze(1)
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    names = list(names) if names is not None else [f"attr{i}" for i in range(logits.shape[1])]
    x = latents.tensor.detach().cpu().double().numpy()
    num_keep = max(2, round(keep_fraction * len(latents)))
    entropies = {}
    for column, name in enumerate(names):
        values = logits[:, column].numpy()
        kept = np.argsort(-np.abs(values), kind="stable")[:num_keep]
        labels = (values[kept] > 0).astype(np.int64)
        if labels.min() == labels.max():
            predictions = labels  # one class only: the labels carry no uncertainty
        else:
            svm = LinearSVC(C=svm_c, max_iter=max_iter)
            svm.fit(x[kept], labels)
            predictions = svm.predict(x[kept])
        entropies[name] = conditional_entropy(labels, predictions)
    return Separability(float(math.exp(sum(entropies.values()))), entropies)


@torch.no_grad()
def measure_separability(
    generator: AnyGenerator,
    classifier: Scorer,
    num: int,
    *,
    names: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[LatentSpace, Separability]:
    """Sample `num` images, classify them once, and score the same samples in Z and in W (the paper: 200K)."""
    samples = sample_and_score(generator, classifier, num, space=LatentSpace.Z, seed=seed, batch_size=batch_size)
    z = samples.latents.tensor.to(generator.device)
    w = torch.cat([generator.mapping(z[i : i + 256])[:, 0].cpu() for i in range(0, len(z), 256)])
    return {
        LatentSpace.Z: linear_separability(samples.latents, samples.scores, names=names),
        LatentSpace.W: linear_separability(Latents(w, LatentSpace.W), samples.scores, names=names),
    }
