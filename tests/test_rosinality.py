"""rosinality `.pt` checkpoints: strict key map both ways, parity with rosinality's forward math, clear refusals."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import load_network
from stylegan_edit.formats.rosinality import read_rosinality, to_rosinality, write_rosinality
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Network
from tests import rosinality_reference as reference
from tests.conftest import TINY, make_generator, randomize_

# rosinality has 512 channels up to 32 px whatever the multiplier, so 8 px is the smallest faithful network.
ROS = GeneratorConfig(img_resolution=8, z_dim=16, w_dim=16, mapping_layers=2)
ROS_D = DiscriminatorConfig(img_resolution=8)

# Written out by hand from docs/formats.md for 8 px (one upsampling block), independently of the key-map code.
EXPECTED_G_KEYS = {
    *(f"style.{i}.{p}" for i in (1, 2) for p in ("weight", "bias")),
    "input.input",
    *(
        f"{layer}.{p}"
        for layer in ("conv1", "convs.0", "convs.1")
        for p in ("conv.weight", "conv.modulation.weight", "conv.modulation.bias", "noise.weight", "activate.bias")
    ),
    *(
        f"{rgb}.{p}"
        for rgb in ("to_rgb1", "to_rgbs.0")
        for p in ("conv.weight", "conv.modulation.weight", "conv.modulation.bias", "bias")
    ),
    "noises.noise_0",
    "noises.noise_1",
    "noises.noise_2",
    "convs.0.conv.blur.kernel",
    "to_rgbs.0.upsample.kernel",
}
EXPECTED_D_KEYS = {
    "convs.0.0.weight",
    "convs.0.1.bias",
    "convs.1.conv1.0.weight",
    "convs.1.conv1.1.bias",
    "convs.1.conv2.0.kernel",
    "convs.1.conv2.1.weight",
    "convs.1.conv2.2.bias",
    "convs.1.skip.0.kernel",
    "convs.1.skip.1.weight",
    "final_conv.0.weight",
    "final_conv.1.bias",
    *(f"final_linear.{i}.{p}" for i in (0, 1) for p in ("weight", "bias")),
}


@pytest.fixture(scope="module")
def network() -> Network:
    torch.manual_seed(3)
    discriminator = randomize_(Discriminator(ROS_D), 3).eval()
    return Network(make_generator(ROS, seed=2), discriminator)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory, network: Network) -> Path:
    path = tmp_path_factory.mktemp("ros") / "converted.pt"
    write_rosinality(path, network)
    return path


def assert_same_state(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_converted_checkpoint_has_rosinality_layout(converted: Path) -> None:
    checkpoint = torch.load(converted, weights_only=True)
    assert set(checkpoint) == {"g_ema", "latent_avg", "d"}
    assert set(checkpoint["g_ema"]) == EXPECTED_G_KEYS
    assert set(checkpoint["d"]) == EXPECTED_D_KEYS
    g = checkpoint["g_ema"]
    assert g["input.input"].shape == (1, 512, 4, 4)
    assert g["convs.0.conv.weight"].shape == (1, 512, 512, 3, 3)
    assert g["to_rgb1.bias"].shape == (1, 3, 1, 1)
    assert g["noises.noise_2"].shape == (1, 1, 8, 8)
    assert g["conv1.noise.weight"].shape == (1,)
    assert torch.allclose(g["convs.0.conv.blur.kernel"].sum(), torch.tensor(4.0))


def test_converted_round_trip_is_exact(converted: Path, network: Network) -> None:
    loaded = load_network(converted)  # dispatched by content: a torch zip
    assert loaded.generator.config == ROS
    assert loaded.metadata["source_format"] == "rosinality"
    assert_same_state(loaded.generator, network.generator)
    assert loaded.discriminator is not None and loaded.discriminator.config == ROS_D
    assert_same_state(loaded.discriminator, network.discriminator)  # type: ignore[arg-type]
    z = torch.randn(1, ROS.z_dim)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z, truncation_psi=0.5), network.generator(z, truncation_psi=0.5))


def test_rosinality_forward_math_reproduces_our_networks(converted: Path, network: Network) -> None:
    checkpoint = torch.load(converted, weights_only=True)
    loaded = read_rosinality(converted)
    z = torch.randn(2, ROS.z_dim)
    with torch.no_grad():
        ws = loaded.generator.mapping(z)
        assert torch.allclose(reference.mapping(checkpoint["g_ema"], z), ws[:, 0], atol=1e-6, rtol=0)
        ours = loaded.generator.synthesis(ws, noise_mode="const")
        theirs = reference.synthesis(checkpoint["g_ema"], ws)
        assert ours.abs().max() > 0.5
        assert (ours - theirs).abs().max() < 1e-5 * theirs.abs().max()  # relative: float32 rounding varies by CPU
        assert loaded.discriminator is not None
        images = torch.randn(2, 3, 8, 8)
        logits = loaded.discriminator(images)
        assert (logits - reference.discriminator(checkpoint["d"], images)).abs().max() < 1e-5 * logits.abs().max()


def _training_checkpoint(network: Network, **args: Any) -> dict[str, Any]:
    converted = to_rosinality(network)
    params = [torch.nn.Parameter(converted["g_ema"][k].clone()) for k in ("style.1.weight", "style.1.bias")]
    optim = torch.optim.Adam(params, lr=0.002, betas=(0.0, 0.99))
    torch.stack([p.sum() for p in params]).sum().backward()
    optim.step()  # a real optimizer state: step counters and moment tensors
    namespace = argparse.Namespace(arch="stylegan2", size=8, latent=16, n_mlp=2, channel_multiplier=2, batch=4)
    vars(namespace).update(args)
    return dict(
        g=converted["g_ema"],
        d=converted["d"],
        g_ema=converted["g_ema"],
        g_optim=optim.state_dict(),
        d_optim=optim.state_dict(),
        args=namespace,
        ada_aug_p=0.1,
    )


def test_legacy_torch_save_format_is_read(tmp_path: Path, network: Network) -> None:
    # rosinality checkpoints written by torch < 1.6 are plain pickles, so they sniff like NVIDIA's .pkl
    checkpoint = to_rosinality(Network(network.generator))
    torch.save(checkpoint, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    loaded = load_network(tmp_path / "old.pt")
    assert loaded.metadata["source_format"] == "rosinality"
    assert_same_state(loaded.generator, network.generator)


def test_training_checkpoint_loads_and_computes_w_avg(tmp_path: Path, network: Network) -> None:
    path = tmp_path / "050000.pt"
    torch.save(_training_checkpoint(network), path)
    loaded = read_rosinality(path)
    assert "no latent_avg" in loaded.metadata["note"] and "4096" in loaded.metadata["note"]
    for key, value in network.generator.state_dict().items():
        if key != "mapping.w_avg":
            assert torch.equal(loaded.generator.state_dict()[key], value), key
    assert loaded.discriminator is not None
    z = torch.randn([4096, ROS.z_dim], generator=torch.Generator().manual_seed(0))  # the documented draw
    with torch.no_grad():
        expected = network.generator.mapping(z)[:, 0].mean(dim=0)
    assert torch.allclose(loaded.generator.mapping.w_avg, expected, atol=1e-6)


def test_args_that_contradict_the_weights_are_refused(tmp_path: Path, network: Network) -> None:
    checkpoint = _training_checkpoint(network, n_mlp=8)
    del checkpoint["d"], checkpoint["g"]
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"args\.n_mlp=8 but the weights say 2"):
        read_rosinality(tmp_path / "bad.pt")


@pytest.mark.parametrize(
    ("edit", "message"),
    [("add", r"unexpected \['convs\.0\.conv\.extra'\]"), ("remove", r"no 'convs\.0\.conv\.weight'")],
)
def test_keys_outside_the_map_are_refused(tmp_path: Path, converted: Path, edit: str, message: str) -> None:
    checkpoint = torch.load(converted, weights_only=True)
    del checkpoint["d"]
    if edit == "add":
        checkpoint["g_ema"]["convs.0.conv.extra"] = torch.zeros(1)
    else:
        del checkpoint["g_ema"]["convs.0.conv.weight"]
    torch.save(checkpoint, tmp_path / "edited.pt")
    with pytest.raises(
        CheckpointError, match=r"edited\.pt: keys do not match rosinality's StyleGAN2 layout .*" + message
    ):
        read_rosinality(tmp_path / "edited.pt")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(2, 2)}, "args": _Evil(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"evil\.pt: refusing to load global (posix|nt)\.system"):
        load_network(tmp_path / "evil.pt")
    assert not marker.exists()


def test_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    torch.save({"g_ema": {"style.1.weight": torch.zeros(64, 64)}, "latent_avg": torch.zeros(64)}, tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt is truncated or corrupt"):
        load_network(tmp_path / "cut.pt")


def test_generator_rosinality_cannot_express_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"rosinality's StyleGAN2 cannot express this generator: .*channel_max 512"):
        write_rosinality(tmp_path / "tiny.pt", Network(make_generator(TINY)))
    assert not (tmp_path / "tiny.pt").exists()


def test_conv_clamp_is_dropped_with_a_warning(
    tmp_path: Path, network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    clamped = Generator(dataclasses.replace(ROS, conv_clamp=256.0))
    clamped.load_state_dict(network.generator.state_dict())
    with caplog.at_level(logging.WARNING):
        write_rosinality(tmp_path / "clamped.pt", Network(clamped))
    assert "rosinality has no conv_clamp" in caplog.text
    assert read_rosinality(tmp_path / "clamped.pt").generator.config.conv_clamp is None
