"""Native checkpoint and latent files: exact round trips and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import load_network, save_network
from stylegan_edit.generators import Discriminator, Generator, GeneratorConfig
from stylegan_edit.latents import Latents, LatentSpace, load_latents


def test_native_round_trip_is_exact(
    tmp_path: Path, tiny_generator: Generator, tiny_discriminator: Discriminator
) -> None:
    path = tmp_path / "net.safetensors"
    save_network(path, tiny_generator, tiny_discriminator, metadata={"note": "hello"})
    network = load_network(path)
    assert network.generator.config == tiny_generator.config
    assert network.metadata["note"] == "hello"
    for key, value in tiny_generator.state_dict().items():
        assert torch.equal(network.generator.state_dict()[key], value), key
    assert network.discriminator is not None
    for key, value in tiny_discriminator.state_dict().items():
        assert torch.equal(network.discriminator.state_dict()[key], value), key
    z = torch.randn(2, 16)
    assert torch.equal(network.generator(z), tiny_generator(z))


def test_half_precision_file_is_smaller_and_close(tmp_path: Path, tiny_generator: Generator) -> None:
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    save_network(full, tiny_generator)
    save_network(half, tiny_generator, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    z = torch.randn(2, 16)
    assert (load_network(half).generator(z) - tiny_generator(z)).abs().max() < 0.05


def test_truncated_checkpoint_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(tiny_checkpoint.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_network(broken)


def test_wrong_kind_of_file_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a supported checkpoint"):
        load_network(text)
    latents = tmp_path / "latents.safetensors"
    Latents(torch.zeros(1, 4), LatentSpace.W).save(latents)
    with pytest.raises(CheckpointError, match="not a stylegan-edit network"):
        load_network(latents)


def test_strict_loading_names_the_mismatch(tmp_path: Path, tiny_generator: Generator) -> None:
    from safetensors.torch import load_file, save_file

    path = tmp_path / "net.safetensors"
    save_network(path, tiny_generator)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    tensors = load_file(str(path))
    del tensors["G_ema.mapping.fc0.weight"]
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(CheckpointError, match=r"missing mapping\.fc0\.weight"):
        load_network(path)


def test_latents_round_trip_native_and_npz(tmp_path: Path) -> None:
    wp = Latents(torch.randn(2, 8, 16), LatentSpace.W_PLUS)
    wp.save(tmp_path / "a.safetensors", metadata={"generator": "tiny"})
    loaded, meta = load_latents(tmp_path / "a.safetensors")
    assert loaded.space is LatentSpace.W_PLUS and torch.equal(loaded.tensor, wp.tensor)
    assert meta["generator"] == "tiny"
    wp.save_npz(tmp_path / "projected_w.npz")
    with np.load(tmp_path / "projected_w.npz") as data:
        assert data["w"].dtype == np.float32 and data["w"].shape == (2, 8, 16)
    npz, _ = load_latents(tmp_path / "projected_w.npz")
    assert torch.equal(npz.tensor, wp.tensor)


def test_latents_validate_their_space() -> None:
    with pytest.raises(ValueError, match="w\\+ latents must have 3 dimensions"):
        Latents(torch.zeros(2, 16), LatentSpace.W_PLUS)
    w = Latents(torch.randn(2, 16), "w")  # type: ignore[arg-type]
    assert w.space is LatentSpace.W
    assert w.to_w_plus(6).tensor.shape == (2, 6, 16)
    with pytest.raises(ValueError, match="mapped to W first"):
        Latents(torch.zeros(2, 16), LatentSpace.Z).to_w_plus(6)


def test_config_json_round_trip_and_unknown_fields() -> None:
    config = GeneratorConfig(img_resolution=64, channel_base=16384, conv_clamp=256.0)
    assert GeneratorConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="unknown GeneratorConfig fields: bogus"):
        GeneratorConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(img_resolution=48)


def test_written_files_get_ordinary_permissions(tmp_path: Path, tiny_generator: Generator) -> None:
    import os

    umask = os.umask(0o022)
    try:
        save_network(tmp_path / "net.safetensors", tiny_generator)
        Latents(torch.zeros(1, 16), LatentSpace.W).save(tmp_path / "w.safetensors")
    finally:
        os.umask(umask)
    for name in ("net.safetensors", "w.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
