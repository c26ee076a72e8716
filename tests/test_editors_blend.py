"""Layer swapping and model interpolation endpoints; refusing models of different architectures."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylegan_edit.editors import blend_layers, interpolate_models
from stylegan_edit.editors.blend import swap_weights
from stylegan_edit.generators import Generator
from tests.conftest import TINY, make_generator


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    state_a, state_b = a.state_dict(), b.state_dict()
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.fixture
def pair() -> tuple[Generator, Generator]:
    return make_generator(seed=0), make_generator(seed=1)


def images(generator: Generator, seed: int = 5) -> torch.Tensor:
    z = torch.randn(2, TINY.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return generator(z)


def test_blend_endpoints(pair: tuple[Generator, Generator]) -> None:
    model_a, model_b = pair
    all_b = blend_layers(model_a, model_b, 4)  # every block is at or above 4 px
    assert same_state(all_b.synthesis, model_b.synthesis) and same_state(all_b.mapping, model_a.mapping)
    ws = model_a.mapping(torch.randn(2, TINY.z_dim))
    with torch.no_grad():
        assert torch.equal(all_b.synthesis(ws), model_b.synthesis(ws))
    assert same_state(blend_layers(model_a, model_b, 4, mapping_from="b"), model_b)
    all_a = blend_layers(model_a, model_b, 2 * TINY.img_resolution)  # no block at or above 32 px
    assert same_state(all_a, model_a) and torch.equal(images(all_a), images(model_a))
    at_top = blend_layers(model_a, model_b, TINY.img_resolution)
    assert same_state(at_top.synthesis.b4, model_a.synthesis.b4) and same_state(
        at_top.synthesis.b8, model_a.synthesis.b8
    )
    assert same_state(at_top.synthesis.b16, model_b.synthesis.b16)


def test_blend_transition_ramps_between_the_models(pair: tuple[Generator, Generator]) -> None:
    assert swap_weights(64, 16) == {4: 0.0, 8: 0.0, 16: 1.0, 32: 1.0, 64: 1.0}
    assert swap_weights(64, 16, transition_width=2) == {4: 0.0, 8: 0.25, 16: 0.75, 32: 1.0, 64: 1.0}
    model_a, model_b = pair
    blended = blend_layers(model_a, model_b, 16, transition_width=2)
    expected = torch.lerp(model_a.synthesis.b8.conv1.weight, model_b.synthesis.b8.conv1.weight, 0.25)
    assert torch.allclose(blended.synthesis.b8.conv1.weight, expected)
    with pytest.raises(ValueError, match="power of two from 4 to 32 for a 16 px model"):
        swap_weights(16, 12)


def test_interpolation_endpoints_are_exact(pair: tuple[Generator, Generator]) -> None:
    model_a, model_b = pair
    assert same_state(interpolate_models(model_a, model_b, 0.0), model_a)
    assert same_state(interpolate_models(model_a, model_b, 1.0), model_b)
    half = interpolate_models(model_a, model_b, 0.5)
    assert torch.allclose(half.mapping.fc0.weight, (model_a.mapping.fc0.weight + model_b.mapping.fc0.weight) / 2)
    per_res = interpolate_models(model_a, model_b, 0.5, resolution_alphas={4: 0.0, 16: 1.0})
    assert same_state(per_res.synthesis.b4, model_a.synthesis.b4) and same_state(
        per_res.synthesis.b16, model_b.synthesis.b16
    )
    with pytest.raises(ValueError, match="no block at resolution 32"):
        interpolate_models(model_a, model_b, 0.5, resolution_alphas={32: 1.0})


def test_models_of_different_architectures_are_refused(pair: tuple[Generator, Generator]) -> None:
    model_a, _ = pair
    bigger = make_generator(dataclasses.replace(TINY, img_resolution=32))
    with pytest.raises(ValueError, match="img_resolution is 16 in the first and 32 in the second"):
        blend_layers(model_a, bigger, 8)
    wider = make_generator(dataclasses.replace(TINY, channel_max=16))
    with pytest.raises(ValueError, match="channel_max is 32 in the first and 16 in the second"):
        interpolate_models(model_a, wider, 0.5)
