"""Direction finders recover planted directions: InterFaceGAN, conditional directions, GANSpace, SeFa."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan_edit.editors import (
    GANSpace,
    InterFaceGAN,
    LinearEdit,
    SeFa,
    conditional_direction,
    load_scores,
    sample_and_score,
    style_layers,
)
from stylegan_edit.generators import Generator
from stylegan_edit.latents import Latents, LatentSpace
from tests.conftest import TINY


def planted(num: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    normal = torch.randn(dim, generator=gen)
    return torch.randn(num, dim, generator=gen), normal / normal.norm()


def test_interfacegan_recovers_a_planted_hyperplane() -> None:
    x, normal = planted(4000, 16)
    _, other = planted(1, 16, seed=1)
    scores = torch.stack([x @ normal, -(x @ other)], dim=1) + 0.05 * torch.randn(4000, 2)
    finder = InterFaceGAN(extreme_fraction=0.1).fit(Latents(x, LatentSpace.W), scores, names=["smile", "age"])
    smile, age = finder.directions_
    assert (smile.name, age.name, smile.space) == ("smile", "age", LatentSpace.W)
    assert float(smile.vector @ normal) > 0.95  # oriented: positive strength raises the score
    assert float(age.vector @ -other) > 0.95
    assert float(smile.vector.norm()) == pytest.approx(1.0, abs=1e-6)
    assert min(finder.accuracies_) > 0.95 and finder.num_extremes_ == 400


def test_interfacegan_rejects_mismatched_scores() -> None:
    x, _ = planted(100, 16)
    with pytest.raises(ValueError, match="100 latents but scores of shape \\[90\\]"):
        InterFaceGAN().fit(Latents(x, LatentSpace.Z), torch.zeros(90))


def test_conditional_directions_are_orthogonal_to_their_conditions() -> None:
    x, _ = planted(3000, 16)
    normals = torch.linalg.qr(torch.randn(16, 3, generator=torch.Generator().manual_seed(3)))[0].T
    mixed = torch.stack([normals[0] + 0.6 * normals[1] + 0.4 * normals[2], normals[1], normals[2]])
    scores = x @ (mixed / mixed.norm(dim=1, keepdim=True)).T
    age, glasses, beard = InterFaceGAN(extreme_fraction=0.2).fit(Latents(x, LatentSpace.W), scores).directions_
    one = conditional_direction(age, [glasses])
    assert abs(float(one.vector @ glasses.vector)) < 1e-5
    expected = age.vector - (age.vector @ glasses.vector) * glasses.vector  # the paper's formula
    assert torch.allclose(one.vector, expected / expected.norm(), atol=1e-6)
    two = conditional_direction(age, [glasses, beard])
    assert max(abs(float(two.vector @ glasses.vector)), abs(float(two.vector @ beard.vector))) < 1e-5
    assert float(two.vector.norm()) == pytest.approx(1.0, abs=1e-6)
    assert float(two.vector @ normals[0]) > 0.9 and two.hyperparameters["conditions"] == ["attr1", "attr2"]
    with pytest.raises(ValueError, match="combination of the conditions"):
        conditional_direction(glasses, [glasses])


def test_sample_and_score_feeds_interfacegan(tiny_generator: Generator, tmp_path: Path) -> None:
    def brightness(images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(1, 2, 3))

    samples = sample_and_score(tiny_generator, brightness, 200, space="w", seed=0, batch_size=100)
    assert samples.latents.tensor.shape == (200, 16) and samples.scores.shape == (200, 1)
    direction = InterFaceGAN(extreme_fraction=0.2).fit(samples.latents, samples.scores).directions_[0]
    start = samples.latents[:16]
    brighter = [brightness(render_w(tiny_generator, LinearEdit(direction, s)(start))).mean() for s in (-1.0, 1.0)]
    assert brighter[1] > brighter[0]
    np.save(tmp_path / "scores.npy", samples.scores.numpy()[:199])
    with pytest.raises(ValueError, match="has 199 scores but there are 200 latents"):
        load_scores(tmp_path / "scores.npy", num_latents=200)
    (tmp_path / "scores.csv").write_text("smile,age\n0.5,1\n-1,2\n")
    values, names = load_scores(tmp_path / "scores.csv", num_latents=2)
    assert names == ("smile", "age") and values.tolist() == [[0.5, 1.0], [-1.0, 2.0]]


def render_w(generator: Generator, latents: Latents) -> torch.Tensor:
    with torch.no_grad():
        return generator.synthesis(latents.to_w_plus(generator.num_ws).tensor)


def test_ganspace_recovers_the_dominant_axis() -> None:
    x, axis = planted(2000, 16)
    w = 0.3 * x + 3.0 * torch.randn(2000, 1) * axis + 1.5
    finder = GANSpace(n_components=3, layers=[0, 1, 2]).fit(Latents(w, LatentSpace.W))
    top = finder.directions_[0]
    assert abs(float(top.vector @ axis)) > 0.99
    assert top.statistics["std"] == pytest.approx(3.0, rel=0.1) and top.layers == (0, 1, 2)
    assert torch.allclose(finder.components_ @ finder.components_.T, torch.eye(3), atol=1e-5)
    assert finder.stds_[0] > finder.stds_[1] >= finder.stds_[2]


def test_style_layers_are_found_by_type_with_their_w_plus_index(tiny_generator: Generator) -> None:
    synthesis = tiny_generator.synthesis
    found = [(layer.index, layer.module) for layer in style_layers(tiny_generator)]
    expected = [
        (0, synthesis.b4.conv1),
        (1, synthesis.b4.torgb),
        (1, synthesis.b8.conv0),
        (2, synthesis.b8.conv1),
        (3, synthesis.b8.torgb),
        (3, synthesis.b16.conv0),
        (4, synthesis.b16.conv1),
        (5, synthesis.b16.torgb),
    ]
    assert sorted(found, key=lambda t: (t[0], id(t[1]))) == sorted(expected, key=lambda t: (t[0], id(t[1])))


def test_sefa_directions_are_eigenvectors_of_the_stacked_modulation_weights(tiny_generator: Generator) -> None:
    synthesis = tiny_generator.synthesis
    rows = [
        layer.affine.weight.detach().double() * layer.affine.weight_gain
        for layer in (synthesis.b8.conv0, synthesis.b8.conv1)
    ]
    a = torch.cat(rows)
    a = a / a.norm(dim=1, keepdim=True)
    eigenvalues, eigenvectors = torch.linalg.eigh(a.T @ a)
    finder = SeFa(n_components=4, layers=[1, 2]).fit(tiny_generator)
    assert finder.layers_ == (1, 2) and finder.directions_[0].layers == (1, 2)
    assert torch.allclose(finder.eigenvalues_.double(), eigenvalues.flip(0)[:4], rtol=1e-4)
    for i, direction in enumerate(finder.directions_):
        reference = eigenvectors[:, -1 - i]
        assert abs(float(direction.vector.double() @ reference)) > 0.9999
        product = (a.T @ a) @ direction.vector.double()
        assert torch.allclose(product, eigenvalues[-1 - i] * direction.vector.double(), atol=1e-4)
    with_rgb = SeFa(n_components=2, layers=[1], include_torgb=True, normalize=False).fit(tiny_generator)
    raw = torch.cat([synthesis.b4.torgb.affine.weight, synthesis.b8.conv0.affine.weight]).detach().double() / 4.0
    top = torch.linalg.eigh(raw.T @ raw)[1][:, -1]
    assert abs(float(with_rgb.directions_[0].vector.double() @ top)) > 0.9999
    with pytest.raises(ValueError, match="layer 6 is out of range"):
        SeFa(layers=[6]).fit(tiny_generator)


@pytest.mark.parametrize("layers", [None, [0, 4], [2, 3, 4]])
def test_sefa_matches_a_numpy_eigendecomposition_of_the_affine_weights(
    tiny_generator: Generator, layers: list[int] | None
) -> None:
    """The SeFa paper (arXiv:2007.06600): directions are the top eigenvectors of A^T A, A the chosen layers' style
    affine weights stacked (one row per modulated channel), each row normalised to unit length. The reference reads
    the weights from the state dict by name: the convolution of W+ index i is conv1 of block 4 (i = 0), else conv0
    (odd i) or conv1 (even i) of block 2^((i + 1) // 2 + 2); the torgb layers are left out."""
    state = {k: v.double().numpy() for k, v in tiny_generator.state_dict().items()}
    keys = ["synthesis.b4.conv1.affine.weight"]
    for index in range(1, TINY.num_ws - 1):
        keys.append(f"synthesis.b{2 ** ((index + 1) // 2 + 2)}.conv{(index + 1) % 2}.affine.weight")
    chosen = [key for index, key in enumerate(keys) if layers is None or index in layers]
    a = np.concatenate([state[key] for key in chosen])
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    eigenvalues, eigenvectors = np.linalg.eigh(a.T @ a)
    order = np.argsort(eigenvalues)[::-1]
    finder = SeFa(n_components=5, layers=layers).fit(tiny_generator)
    assert np.allclose(finder.eigenvalues_.double().numpy(), eigenvalues[order[:5]], rtol=1e-4, atol=1e-6)
    assert bool((finder.eigenvalues_[:-1] >= finder.eigenvalues_[1:]).all())  # descending, as the paper ranks them
    for rank, direction in enumerate(finder.directions_):
        cosine = float(direction.vector.double().numpy() @ eigenvectors[:, order[rank]])
        assert abs(cosine) > 0.999, (rank, cosine)
        assert direction.statistics["eigenvalue"] == pytest.approx(eigenvalues[order[rank]], rel=1e-4)
