"""KID (arXiv:1801.01401) and PGGAN's MS-SSIM diversity (arXiv:1710.10196) against cases with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from stylegan_edit.metrics.kid import kernel_distance, polynomial_kernel, unbiased_mmd2
from stylegan_edit.metrics.ms_ssim import ms_ssim, ms_ssim_diversity, random_pairs, ssim_terms

pytestmark = pytest.mark.usefixtures("one_thread")


def test_unbiased_mmd_matches_the_definition_summed_pair_by_pair() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(1.0, 1.0, size=(5, 3))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b / 3 + 1) ** 3)

    pairs = [(i, j) for i, j in itertools.product(range(5), repeat=2) if i != j]
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i, j in pairs) / len(pairs)
    across = sum(k(x[i], y[j]) for i, j in itertools.product(range(5), repeat=2)) / 25
    assert unbiased_mmd2(x, y) == pytest.approx(within - 2 * across, rel=1e-12)


def test_kid_is_unbiased_for_one_distribution_and_grows_with_the_shift() -> None:
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(400, 16, generator=gen)
    same = torch.randn(400, 16, generator=gen)  # a second sample of the same distribution
    x, y = same.double().numpy(), real.double().numpy()
    biased = polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean() - 2 * polynomial_kernel(x, y).mean()
    kid_same = kernel_distance(same, real, num_subsets=1)
    assert abs(kid_same) < biased / 2, "the estimate keeps the biased V-statistic's positive offset"
    kid_near = kernel_distance(same + 0.3, real, num_subsets=1)  # subsets of all 400: permutations, one value
    kid_far = kernel_distance(same + 1.0, real, num_subsets=1)
    assert 10 * abs(kid_same) < kid_near < kid_far
    subsets = kernel_distance(same + 0.3, real, num_subsets=20, max_subset_size=100, seed=1)
    assert subsets == pytest.approx(kid_near, rel=0.3)  # small subsets estimate the same value
    with pytest.raises(ValueError, match="one D"):
        kernel_distance(real, real[:, :8])


def test_ms_ssim_is_one_for_identical_images_and_falls_with_noise() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 64, 64, generator=gen) * 2 - 1
    assert torch.allclose(ms_ssim(x, x), torch.ones(4, dtype=torch.float64))
    slight = ms_ssim(x, (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(-1, 1))
    strong = ms_ssim(x, (x + 0.5 * torch.randn(x.shape, generator=gen)).clamp(-1, 1))
    assert (strong < slight).all() and (slight < 1).all()
    with pytest.raises(ValueError, match="at least 16 px"):
        ms_ssim(x[..., :8, :8], x[..., :8, :8])


def test_single_scale_ssim_agrees_with_scikit_image() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    ssim, _ = ssim_terms(x, y)
    for i in range(2):
        reference = structural_similarity(
            x[i].double().numpy(),
            y[i].double().numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=2.0,
            channel_axis=0,
        )
        assert float(ssim[i]) == pytest.approx(reference, abs=1e-6)


def test_diversity_is_high_for_a_collapsed_set_and_low_for_varied_images() -> None:
    gen = torch.Generator().manual_seed(2)
    face = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
    collapsed = (face + 0.02 * torch.randn(16, 3, 64, 64, generator=gen)).clamp(-1, 1)
    varied = torch.rand(16, 3, 64, 64, generator=gen) * 2 - 1
    assert ms_ssim_diversity(collapsed) > 0.9 > 0.2 > ms_ssim_diversity(varied)
    first, second = random_pairs(5, 200, seed=0)
    assert (first != second).all() and set(first) == set(range(5)) == set(second)


def test_small_data_metrics_tell_the_toon_model_from_the_photo_model_on_toon_renders() -> None:
    from stylegan_edit.workflow import small_data_metrics

    toon = small_data_metrics("synthfaces-toon-64", real="synthfaces:toon", num=32)
    photo = small_data_metrics("synthfaces-64", real="synthfaces:toon", num=32)
    assert 10 * toon.kid < photo.kid
    assert toon.fid is None and toon.num == toon.num_real == 32  # 32 images: too few for a 128-d covariance
    assert 0 < toon.ms_ssim < 1 and toon.ms_ssim_real == photo.ms_ssim_real
    assert toon.document()["feature_space"].startswith("attribute classifier")
