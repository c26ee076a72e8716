"""The editing workflow: edit, render, generate, blend / interpolate, fit_direction, and the image grid."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_edit.editors import Direction, GeneratorSignature
from stylegan_edit.formats.native import load_network, save_network
from stylegan_edit.generators import Generator
from stylegan_edit.images import make_grid, to_pil
from stylegan_edit.latents import Latents, LatentSpace, seeds_z
from stylegan_edit.workflow.directions import fit_direction
from stylegan_edit.workflow.editing import edit, generate, render, sweep
from stylegan_edit.workflow.mixing import blend, interpolate, provenance
from tests.conftest import TINY, make_generator

pytestmark = pytest.mark.usefixtures("one_thread")


def unit_direction(generator: Generator, seed: int = 0, layers: tuple[int, ...] | None = None) -> Direction:
    vector = torch.randn(generator.w_dim, generator=torch.Generator().manual_seed(seed))
    signature = GeneratorSignature.of(generator)
    return Direction(vector / vector.norm(), LatentSpace.W, "d", "test", layers=layers, generator=signature)


def w_latents(num: int = 3, seed: int = 1) -> Latents:
    return Latents(torch.randn(num, TINY.w_dim, generator=torch.Generator().manual_seed(seed)), LatentSpace.W)


def test_strength_zero_is_the_identity(tiny_generator: Generator) -> None:
    direction = unit_direction(tiny_generator)
    w = w_latents()
    same = edit(w, direction, 0.0, generator=tiny_generator)
    assert same.space is LatentSpace.W and torch.equal(same.tensor, w.tensor)
    w_plus = Latents(torch.randn(2, TINY.num_ws, TINY.w_dim), LatentSpace.W_PLUS)
    assert torch.equal(edit(w_plus, direction, 0.0, layers=[1, 3], generator=tiny_generator).tensor, w_plus.tensor)


def test_edit_moves_the_chosen_layers_by_strength_times_direction(tiny_generator: Generator) -> None:
    direction = unit_direction(tiny_generator)
    w = w_latents()
    moved = edit(w, direction, 1.5)
    assert torch.allclose(moved.tensor - w.tensor, 1.5 * direction.vector.expand(3, -1), atol=1e-6)
    layered = edit(w, direction, -2.0, layers=[0, 2], generator=tiny_generator)
    assert layered.space is LatentSpace.W_PLUS and layered.tensor.shape == (3, TINY.num_ws, TINY.w_dim)
    delta = layered.tensor - w.tensor.unsqueeze(1)
    for layer in range(TINY.num_ws):
        expected = -2.0 * direction.vector if layer in (0, 2) else torch.zeros(TINY.w_dim)
        assert torch.allclose(delta[:, layer], expected.expand(3, -1), atol=1e-6), layer
    assert torch.equal(layered.tensor[:, 1], w.tensor)  # untouched layers keep their exact values
    # a direction that carries its own layers edits only those
    own = edit(w, unit_direction(tiny_generator, layers=(4,)), 1.0, generator=tiny_generator)
    assert torch.equal(own.tensor[:, :4], w.tensor.unsqueeze(1).expand(-1, 4, -1))


def test_edit_resolves_files_and_maps_z_to_w(tmp_path: Path, tiny_generator: Generator) -> None:
    direction = unit_direction(tiny_generator)
    direction.save(tmp_path / "d.safetensors")
    z = Latents(seeds_z([3, 4], TINY.z_dim), LatentSpace.Z)
    edited = edit(z, tmp_path / "d.safetensors", 1.0, generator=tiny_generator)
    with torch.no_grad():
        w = tiny_generator.mapping(z.tensor)[:, 0]
    assert edited.space is LatentSpace.W and torch.allclose(edited.tensor, w + direction.vector, atol=1e-6)
    swept = sweep(w_latents(2), direction, [-1.0, 0.0, 1.0])
    assert len(swept) == 6 and torch.equal(swept.tensor[4], w_latents(2).tensor[1])  # latent 1, strength 0


def test_edit_refuses_non_finite_strengths_and_bad_layers(tiny_generator: Generator) -> None:
    direction = unit_direction(tiny_generator)
    for strength in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="edit strength must be a finite number") as info:
            edit(w_latents(), direction, strength)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="layers 6 out of range"):
        edit(w_latents(), direction, 1.0, layers=[6], generator=tiny_generator)
    narrow = Latents(torch.randn(1, 8), LatentSpace.W)
    with pytest.raises(ValueError, match="8-d, but this generator has w_dim 16"):
        edit(narrow, direction, 1.0, generator=tiny_generator)


def test_conditions_project_other_directions_out(tiny_generator: Generator) -> None:
    primary, other = unit_direction(tiny_generator, seed=0), unit_direction(tiny_generator, seed=1)
    w = w_latents()
    moved = edit(w, primary, 2.0, conditions=[other]).tensor - w.tensor
    assert torch.allclose(moved @ other.vector, torch.zeros(3), atol=1e-5)
    assert torch.allclose(moved.norm(dim=1), torch.full((3,), 2.0), atol=1e-5)


def test_generate_equals_the_mapping_of_nvidias_seed_codes(tiny_generator: Generator) -> None:
    seeds = [0, 5, 123]
    generated = generate(tiny_generator, seeds, trunc=0.7, trunc_cutoff=2)
    with torch.no_grad():
        ws = tiny_generator.mapping(seeds_z(seeds, TINY.z_dim), truncation_psi=0.7, truncation_cutoff=2)
        expected = tiny_generator.synthesis(ws, noise_mode="const")
    assert generated.seeds == (0, 5, 123)
    assert generated.latents.space is LatentSpace.W_PLUS and torch.allclose(generated.latents.tensor, ws, atol=1e-6)
    assert torch.equal(generated.z, seeds_z(seeds, TINY.z_dim))
    assert torch.allclose(generated.images, expected, atol=1e-5)
    assert torch.allclose(render(tiny_generator, generated.latents), generated.images, atol=1e-6)
    plain = generate(tiny_generator, seeds)
    assert not torch.allclose(plain.images, generated.images, atol=1e-3)  # truncation did something


def test_blend_takes_a_below_swap_res_and_b_above(tmp_path: Path) -> None:
    model_a, model_b = make_generator(seed=0), make_generator(seed=1)
    save_network(tmp_path / "b.safetensors", model_b)
    blended = blend(model_a, tmp_path / "b.safetensors", swap_res=8)  # a generator and a file
    assert torch.equal(blended.synthesis.b4.conv1.weight, model_a.synthesis.b4.conv1.weight)
    assert torch.equal(blended.synthesis.b4.torgb.affine.weight, model_a.synthesis.b4.torgb.affine.weight)
    assert torch.equal(blended.synthesis.b8.conv0.weight, model_b.synthesis.b8.conv0.weight)
    assert torch.equal(blended.synthesis.b16.conv1.affine.bias, model_b.synthesis.b16.conv1.affine.bias)
    assert torch.equal(blended.mapping.fc0.weight, model_a.mapping.fc0.weight)
    assert not torch.equal(model_a.synthesis.b8.conv0.weight, model_b.synthesis.b8.conv0.weight)
    from_b = blend(model_a, model_b, swap_res=8, mapping_from="b")
    assert torch.equal(from_b.mapping.w_avg, model_b.mapping.w_avg)
    half = interpolate(model_a, model_b, alpha=0.5)
    assert torch.allclose(half.mapping.fc1.weight, (model_a.mapping.fc1.weight + model_b.mapping.fc1.weight) / 2)
    recipe = json.loads(provenance("blend", "a.pkl", tmp_path / "b.safetensors", swap_res=8)["made_by"])
    assert recipe == {"command": "blend", "model_a": "a.pkl", "model_b": str(tmp_path / "b.safetensors"), "swap_res": 8}
    written = tmp_path / "blend.safetensors"
    save_network(written, blended, metadata=provenance("blend", "a", "b", swap_res=8))
    assert json.loads(load_network(written).metadata["made_by"])["swap_res"] == 8


def test_blend_accepts_bundled_names() -> None:
    blended = blend("synthfaces-64", "synthfaces-toon-64", swap_res=32)
    photo = load_network("synthfaces-64").generator
    assert blended.img_resolution == 64
    assert torch.equal(blended.synthesis.b16.conv1.weight, photo.synthesis.b16.conv1.weight)


def test_fit_direction_sefa_and_ganspace_defaults(tiny_generator: Generator) -> None:
    sefa = fit_direction(tiny_generator, "sefa", layers=[1, 2])
    assert [d.name for d in sefa] == [f"sefa{i}" for i in range(5)] and sefa[0].layers == (1, 2)  # SeFa's default 5
    ganspace = fit_direction(tiny_generator, "ganspace", num_samples=200, components=3, name="g")
    assert [d.name for d in ganspace] == ["g0", "g1", "g2"] and ganspace[0].statistics["num_samples"] == 200
    with pytest.raises(ValueError, match="interfacegan method only"):
        fit_direction(tiny_generator, "sefa", attributes=["age"])
    w = w_latents(200, seed=2)
    normal = torch.ones(TINY.w_dim) / TINY.w_dim**0.5
    (found,) = fit_direction(tiny_generator, "interfacegan", scores=w.tensor @ normal, latents=w, extreme_fraction=0.3)
    assert found.name == "score" and float(found.vector @ normal) > 0.8


def test_make_grid_tiles_row_major_with_white_padding() -> None:
    images = torch.linspace(-1, 1, 5).view(5, 1, 1, 1).expand(5, 3, 4, 6)
    grid = make_grid(images, ncols=2, pad=1)
    assert grid.size == (2 * 6 + 1, 3 * 4 + 2)
    pixels = np.asarray(grid)
    tiles = [np.asarray(p) for p in to_pil(images)]
    for i, tile in enumerate(tiles):
        top, left = (i // 2) * 5, (i % 2) * 7
        assert np.array_equal(pixels[top : top + 4, left : left + 6], tile), i
    assert (pixels[4, :] == 255).all() and (pixels[:, 6] == 255).all() and (pixels[10:, 7:] == 255).all()
    same = make_grid([Image.fromarray(t) for t in tiles], ncols=2, pad=1)
    assert np.array_equal(np.asarray(same), pixels)
    assert make_grid(images[:2], ncols=4).size == (4 * 6, 4)  # a short row keeps the grid ncols wide
    assert make_grid(images).size == (3 * 6, 2 * 4)  # default: a square-ish grid
