"""Kernel distance between feature sets (KID, Bińkowski et al. 2018, arXiv:1801.01401): the unbiased estimate of
the squared MMD with the cubic polynomial kernel `k(x, y) = (x . y / d + 1) ** 3`, averaged over random subsets as
stylegan2-ada's metric does. Unlike FID it has no bias that depends on the sample count, so it suits small sets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

NUM_SUBSETS = 100
MAX_SUBSET_SIZE = 1000


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`(x . y / d + 1) ** 3` for every pair, `[M, D] x [K, D] -> [M, K]` (float64)."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased squared MMD of two equal-size sets `[M, D]` (M >= 2) under `polynomial_kernel`: the mean of
    `k(x_i, x_j)` and of `k(y_i, y_j)` over pairs `i != j`, minus twice the mean of `k(x_i, y_j)` over all
    pairs. Its expectation is 0 for two samples of one distribution, so it can come out slightly negative."""
    m = len(x)
    if len(y) != m or m < 2:
        raise ValueError(f"need two sets of the same size >= 2, got {len(x)} and {len(y)}")
    within = polynomial_kernel(x, x) + polynomial_kernel(y, y)
    across = polynomial_kernel(x, y)
    return float((within.sum() - np.trace(within)) / (m * (m - 1)) - 2 * across.sum() / (m * m))


def kernel_distance(
    generated: Tensor,
    real: Tensor,
    *,
    num_subsets: int = NUM_SUBSETS,
    max_subset_size: int = MAX_SUBSET_SIZE,
    seed: int = 0,
) -> float:
    """KID between feature sets `generated [N, D]` and `real [M, D]`: `unbiased_mmd2` averaged over `num_subsets`
    pairs of random subsets (without replacement) of size `min(N, M, max_subset_size)`; 0 for one distribution,
    larger the further apart. `seed` fixes the subsets (numpy `RandomState`)."""
    x = generated.detach().to("cpu", torch.float64).numpy()
    y = real.detach().to("cpu", torch.float64).numpy()
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sets must be [N, D] with one D, got {list(x.shape)} and {list(y.shape)}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be at least 1, got {num_subsets}")
    m = min(len(x), len(y), max_subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 feature vectors in each set, got {len(x)} and {len(y)}")
    rng = np.random.RandomState(seed)
    total = 0.0
    for _ in range(num_subsets):
        total += unbiased_mmd2(x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)])
    return total / num_subsets
