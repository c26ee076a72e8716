"""Direction values and files, LinearEdit, and the project -> apply hand-off."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stylegan_edit.assets import bundled, resolve
from stylegan_edit.cli.handoff import HANDOFF_PATH, find_last_latents, record_latents
from stylegan_edit.editors import Direction, GeneratorSignature, LinearEdit, load_direction
from stylegan_edit.generators import Generator
from stylegan_edit.latents import Latents, LatentSpace
from tests.conftest import TINY


def unit(*shape: int, seed: int = 0) -> torch.Tensor:
    vector = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    return vector / vector.norm()


def test_direction_file_round_trip(tmp_path: Path, tiny_generator: Generator) -> None:
    direction = Direction(
        vector=unit(TINY.num_ws, TINY.w_dim),
        space=LatentSpace.W_PLUS,
        name="smile",
        method="interfacegan",
        hyperparameters={"extreme_fraction": 0.02, "svm_c": 1.0},
        layers=(0, 2, 3),
        statistics={"accuracy": 0.97},
        generator=GeneratorSignature.of(tiny_generator),
    )
    path = tmp_path / "smile.safetensors"
    direction.save(path)
    loaded = load_direction(path, generator=tiny_generator)
    assert torch.equal(loaded.vector, direction.vector)
    assert (loaded.space, loaded.name, loaded.method, loaded.layers) == (
        LatentSpace.W_PLUS,
        "smile",
        "interfacegan",
        (0, 2, 3),
    )
    assert loaded.hyperparameters == direction.hyperparameters and loaded.statistics == {"accuracy": 0.97}
    assert loaded.generator == direction.generator
    assert not list(tmp_path.glob(".*"))  # the atomic write left no temporary file


def test_direction_for_another_generator_names_the_mismatch(tmp_path: Path, tiny_generator: Generator) -> None:
    narrow = Direction(unit(8), LatentSpace.W, "narrow", "sefa")
    with pytest.raises(ValueError, match=r"w_dim 8 vs 16"):
        narrow.check_generator(tiny_generator)
    bigger = Generator(TINY.__class__(**{**TINY.to_dict(), "img_resolution": 32, "resample_filter": (1, 3, 3, 1)}))
    deep = Direction(unit(16), LatentSpace.W, "deep", "ganspace", generator=GeneratorSignature.of(bigger))
    path = tmp_path / "deep.safetensors"
    deep.save(path)
    with pytest.raises(ValueError, match=r"num_ws 8 vs 6") as info:
        load_direction(path, generator=tiny_generator)
    assert "w_dim" not in str(info.value) and "\n" not in str(info.value)


def test_bad_direction_files_and_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="no such direction file"):
        load_direction(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable direction file"):
        load_direction(junk)
    assert resolve("direction", "age") == bundled("direction")["age"]
    monkeypatch.setattr("stylegan_edit.assets.ASSETS", tmp_path / "none-installed")
    with pytest.raises(ValueError, match=r"unknown direction 'age' \(known: none\)"):
        resolve("direction", "age")
    (tmp_path / "mine").mkdir()
    Direction(unit(16), LatentSpace.W, "mine", "sefa").save(tmp_path / "mine" / "sefa3.safetensors")
    assert resolve("direction", "sefa3", search_dirs=[tmp_path / "mine"]) == tmp_path / "mine" / "sefa3.safetensors"
    with pytest.raises(ValueError, match=r"unknown direction 'sefa4' \(known: .*sefa3"):
        resolve("direction", "sefa4", search_dirs=[tmp_path / "mine"])


def test_strength_zero_is_the_identity() -> None:
    w = torch.randn(3, TINY.w_dim)
    direction = Direction(unit(TINY.w_dim), LatentSpace.W, "d", "ganspace")
    same = LinearEdit(direction, 0.0)(Latents(w, LatentSpace.W))
    assert same.space is LatentSpace.W and torch.equal(same.tensor, w)
    w_plus = torch.randn(3, TINY.num_ws, TINY.w_dim)
    same_plus = LinearEdit(direction, 0.0, layers=[1, 2])(Latents(w_plus, LatentSpace.W_PLUS))
    assert torch.equal(same_plus.tensor, w_plus)
    z_direction = Direction(unit(TINY.z_dim), LatentSpace.Z, "z", "interfacegan")
    z = torch.randn(2, TINY.z_dim)
    assert torch.equal(LinearEdit(z_direction, 0.0)(Latents(z, LatentSpace.Z)).tensor, z)


def test_layer_restricted_edit_leaves_other_layers_untouched() -> None:
    w = torch.randn(4, TINY.w_dim)
    direction = Direction(unit(TINY.w_dim), LatentSpace.W, "d", "interfacegan")
    edited = LinearEdit(direction, 2.5, layers=[0, 1, 2])(Latents(w, LatentSpace.W), num_ws=TINY.num_ws)
    assert edited.space is LatentSpace.W_PLUS and edited.tensor.shape == (4, TINY.num_ws, TINY.w_dim)
    for layer in range(TINY.num_ws):
        expected = w + 2.5 * direction.vector if layer <= 2 else w
        assert torch.allclose(edited.tensor[:, layer], expected) and (
            layer <= 2 or torch.equal(edited.tensor[:, layer], w)
        )
    unrestricted = LinearEdit(direction, 2.5)(Latents(w, LatentSpace.W))
    assert unrestricted.space is LatentSpace.W and torch.allclose(unrestricted.tensor, w + 2.5 * direction.vector)
    per_layer = Direction(unit(TINY.num_ws, TINY.w_dim), LatentSpace.W_PLUS, "p", "interfacegan", layers=(4,))
    edited_plus = LinearEdit(per_layer, -1.0)(Latents(w, LatentSpace.W))
    assert torch.equal(edited_plus.tensor[:, :4], w.unsqueeze(1).expand(4, 4, -1))
    assert torch.allclose(edited_plus.tensor[:, 4], w - per_layer.vector[4])


def test_edit_rejects_bad_layers_and_spaces() -> None:
    direction = Direction(unit(TINY.w_dim), LatentSpace.W, "d", "sefa")
    w = Latents(torch.randn(1, TINY.w_dim), LatentSpace.W)
    with pytest.raises(ValueError, match=r"layers 6, 9 out of range: the generator has 6 W\+ layers \(0-5\)"):
        LinearEdit(direction, 1.0, layers=[0, 6, 9])(w, num_ws=TINY.num_ws)
    with pytest.raises(ValueError, match="num_ws is needed"):
        LinearEdit(direction, 1.0, layers=[0])(w)
    with pytest.raises(ValueError, match="mapped to W"):
        LinearEdit(direction, 1.0)(Latents(torch.randn(1, TINY.z_dim), LatentSpace.Z))


def test_handoff_records_and_finds_the_last_latents(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no latents from a previous `project` or `encode`"):
        find_last_latents(tmp_path)
    latents_path = tmp_path / "out" / "projected.safetensors"
    Latents(torch.randn(1, 4, 16), LatentSpace.W_PLUS).save(latents_path)
    record = record_latents(latents_path, command="project", network="synthfaces-64", root=tmp_path)
    assert record == tmp_path / HANDOFF_PATH
    handoff = find_last_latents(tmp_path)
    assert handoff.latents_path == latents_path.resolve() and handoff.network == "synthfaces-64"
    latents_path.unlink()
    with pytest.raises(ValueError, match="no longer exists"):
        find_last_latents(tmp_path)


def test_a_float16_copy_of_the_generator_keeps_its_directions(
    tmp_path: Path, tiny_generator: Generator, caplog: pytest.LogCaptureFixture
) -> None:
    """A direction fitted on a float32 generator fits its float16 shipped copy without the "another mapping
    network" warning (the fingerprint rounds to float16), while a generator with another mapping still warns."""
    from stylegan_edit.editors import SeFa
    from stylegan_edit.formats.native import load_network, save_network
    from tests.conftest import make_generator

    path = tmp_path / "sefa0.safetensors"
    SeFa(n_components=1).fit(tiny_generator).directions_[0].save(path)
    save_network(tmp_path / "half.safetensors", tiny_generator, dtype=torch.float16)
    half = load_network(tmp_path / "half.safetensors").generator
    assert not torch.equal(half.mapping.fc0.weight, tiny_generator.mapping.fc0.weight)  # the copy really was rounded
    with caplog.at_level("WARNING", logger="stylegan_edit.editors.direction"):
        load_direction(path, generator=half)
    assert "another mapping network" not in caplog.text
    other = make_generator(seed=1)
    with caplog.at_level("WARNING", logger="stylegan_edit.editors.direction"):
        load_direction(path, generator=other)
    assert "another mapping network" in caplog.text
