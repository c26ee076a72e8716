"""NVIDIA network pickles: an allow-list unpickler that never runs code from the file, and exact harvesting."""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.foreign import infer_channel_schedule
from stylegan_edit.formats.native import load_network
from stylegan_edit.formats.nvidia_pickle import AllowListUnpickler, read_nvidia_pickle
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from tests.conftest import TINY, make_generator, randomize_
from tests.nvidia_pickle_writer import (
    dump_nvidia_pickle,
    snapshot_records,
    write_nvidia_pickle,
)
from tests.test_nvidia_parity import load_reference_generator
from tests.tf_pickle_writer import write_tf_pickle

TINY_D = DiscriminatorConfig(img_resolution=16, channel_base=256, channel_max=32)


@pytest.fixture
def discriminator() -> Discriminator:
    torch.manual_seed(1)
    return randomize_(Discriminator(TINY_D), 1).eval()  # type: ignore[return-value]


class RecordingUnpickler(AllowListUnpickler):
    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.names: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.names.add(f"{module}.{name}")
        return super().find_class(module, name)


def assert_same_state(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_ada_pickle_loads_exact_tensors_names_and_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, discriminator: Discriminator
) -> None:
    monkeypatch.chdir(tmp_path)  # module_src would write EXECUTED_MODULE_SRC here if anything ran it
    generator = make_generator()
    data = write_nvidia_pickle(tmp_path / "snapshot.pkl", generator, discriminator)
    recorder = RecordingUnpickler(io.BytesIO(data))
    recorder.load()
    assert {"torch_utils.persistence._reconstruct_persistent_obj", "torch.storage._load_from_bytes"} <= recorder.names
    assert "dnnlib.util.EasyDict" in recorder.names

    network = load_network(tmp_path / "snapshot.pkl")
    assert network.generator.config == generator.config
    assert_same_state(network.generator, generator)
    z = torch.randn(3, TINY.z_dim)
    with torch.no_grad():
        assert torch.equal(network.generator(z, truncation_psi=0.7), generator(z, truncation_psi=0.7))
    assert network.discriminator is not None and network.discriminator.config == TINY_D
    assert_same_state(network.discriminator, discriminator)
    with torch.no_grad():
        images = torch.randn(4, 3, 16, 16)
        assert torch.equal(network.discriminator(images), discriminator(images))
    assert network.metadata["source_format"] == "nvidia-pkl"
    assert not (tmp_path / "EXECUTED_MODULE_SRC").exists()


def test_stylegan3_style_pickle_takes_facts_from_module_state(tmp_path: Path) -> None:
    # stylegan3's train.py records flat kwargs without conv_clamp / w_avg_beta: its defaults (256, 0.998) differ
    # from ada's (None, 0.995), so only the module attributes tell the truth.
    config = dataclasses.replace(TINY, conv_clamp=256.0, w_avg_beta=0.998, mapping_layers=3)
    generator = make_generator(config)
    write_nvidia_pickle(tmp_path / "sg3.pkl", generator, variant="sg3", fp16={8, 16})
    network = read_nvidia_pickle(tmp_path / "sg3.pkl")
    assert network.generator.config == config
    assert network.discriminator is None
    assert "8, 16" in network.metadata["note"] and "fp32" in network.metadata["note"]
    assert_same_state(network.generator, generator)
    z = torch.randn(2, TINY.z_dim)
    with torch.no_grad():
        assert torch.equal(network.generator(z), generator(z))


def test_channel_schedule_is_inferred_from_weight_shapes(tmp_path: Path) -> None:
    generator = make_generator()
    snapshot = snapshot_records(generator)
    snapshot["G_ema"].state["_init_kwargs"] = {}  # nothing to go on but the tensors
    dump_nvidia_pickle(tmp_path / "bare.pkl", snapshot)
    assert read_nvidia_pickle(tmp_path / "bare.pkl").generator.config == TINY


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        ({4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}, (32768, 512)),
        ({4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64}, (16384, 512)),
        ({4: 64, 8: 64, 16: 32, 32: 16}, (512, 64)),
    ],
)
def test_infer_channel_schedule(channels: dict[int, int], expected: tuple[int, int]) -> None:
    assert infer_channel_schedule(channels, [], "x") == expected


def test_inexpressible_channel_schedule_is_refused() -> None:
    with pytest.raises(CheckpointError, match="do not follow min"):  # rosinality channel_multiplier=4
        infer_channel_schedule({4: 512, 32: 512, 64: 1024}, [], "x")


def test_real_nvidia_tensors_reproduce_recorded_nvidia_output(tmp_path: Path) -> None:
    reference, recorded, _ = load_reference_generator("nvidia_g_a.safetensors")  # conv_clamp 256, skip
    write_nvidia_pickle(tmp_path / "a.pkl", reference)
    generator = read_nvidia_pickle(tmp_path / "a.pkl").generator
    assert generator.config == reference.config
    with torch.no_grad():
        image = generator.synthesis(recorded["ws_psi1"], noise_mode="const")
    assert (image - recorded["img_const_fused"]).abs().max() < 1e-5


def _marker_payloads(marker: Path) -> dict[str, bytes]:
    command = f"touch {marker}"
    # Protocol-2 header (so the file sniffs as a pickle) followed by protocol-0 GLOBAL + REDUCE opcodes.
    return {
        "os.system": f"cos\nsystem\n(S'{command}'\ntR.".encode(),
        "builtins.exec": f'cbuiltins\nexec\n(S\'open("{marker}", "w")\'\ntR.'.encode(),
        "subprocess.check_call": f"csubprocess\ncheck_call\n((S'touch'\nS'{marker}'\nltR.".encode(),
    }


@pytest.mark.parametrize("name", ["os.system", "builtins.exec", "subprocess.check_call"])
def test_malicious_global_is_refused_and_never_runs(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x02" + _marker_payloads(marker)[name])
    with pytest.raises(CheckpointError, match=f"refusing to load global {name} \\(not on the allow-list"):
        load_network(path)
    assert not marker.exists()


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


def test_payload_hidden_inside_a_network_record_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    snapshot = snapshot_records(make_generator())
    snapshot["G_ema"].child("mapping").state["w_avg_beta"] = _Evil(marker)
    dump_nvidia_pickle(tmp_path / "evil.pkl", snapshot)
    with pytest.raises(CheckpointError, match=r"refusing to load global (posix|nt)\.system"):
        read_nvidia_pickle(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_payload_inside_a_storage_blob_is_refused(tmp_path: Path) -> None:
    # torch.storage._load_from_bytes is allowed, but its blob is decoded weights-only.
    marker = tmp_path / "pwned"
    blob = io.BytesIO()
    torch.save(_Evil(marker), blob, _use_new_zipfile_serialization=False)

    class Storage:
        def __reduce__(self) -> tuple[Any, ...]:
            return torch.storage._load_from_bytes, (blob.getvalue(),)

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": Storage()}, protocol=4))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_nvidia_pickle(tmp_path / "evil.pkl")
    assert not marker.exists()


@pytest.mark.parametrize("keep", [0.02, 0.5, 0.999])
def test_truncated_pickle_is_refused(tmp_path: Path, keep: float) -> None:
    data = write_nvidia_pickle(tmp_path / "full.pkl", make_generator())
    (tmp_path / "cut.pkl").write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match=r"cut\.pkl is truncated or corrupt"):
        load_network(tmp_path / "cut.pkl")


def test_conditional_pickle_is_refused(tmp_path: Path) -> None:
    snapshot = snapshot_records(make_generator())
    snapshot["G_ema"].state["c_dim"] = 10
    dump_nvidia_pickle(tmp_path / "cond.pkl", snapshot)
    with pytest.raises(CheckpointError, match=r"conditional networks \(c_dim > 0\) are not supported yet"):
        read_nvidia_pickle(tmp_path / "cond.pkl")


def test_pickle_without_g_ema_is_refused(tmp_path: Path) -> None:
    snapshot = snapshot_records(make_generator())
    del snapshot["G_ema"]
    dump_nvidia_pickle(tmp_path / "g_only.pkl", snapshot)
    with pytest.raises(CheckpointError, match=r"g_only\.pkl has no G_ema network \(keys: D, G, augment_pipe"):
        read_nvidia_pickle(tmp_path / "g_only.pkl")


def test_inexpressible_discriminator_is_skipped_with_a_note(tmp_path: Path, discriminator: Discriminator) -> None:
    generator = make_generator()
    snapshot = snapshot_records(generator, discriminator)
    for name in ("b16", "b8", "b4"):
        snapshot["D"].child(name).state["architecture"] = "orig"
    dump_nvidia_pickle(tmp_path / "cifar.pkl", snapshot)
    network = read_nvidia_pickle(tmp_path / "cifar.pkl")
    assert network.discriminator is None
    assert "architecture orig is not supported" in network.metadata["discriminator_note"]
    assert_same_state(network.generator, generator)


def test_resnet_generator_with_fp32_kwargs(tmp_path: Path) -> None:
    config = GeneratorConfig(
        img_resolution=16, z_dim=8, w_dim=12, mapping_layers=1, channel_base=128, channel_max=16, architecture="resnet"
    )
    generator = make_generator(config)
    write_nvidia_pickle(tmp_path / "resnet.pkl", generator)
    network = read_nvidia_pickle(tmp_path / "resnet.pkl")
    assert network.generator.config == config
    assert isinstance(network.generator, Generator)
    assert_same_state(network.generator, generator)


def test_tensorflow_pickle_is_converted(tmp_path: Path, discriminator: Discriminator) -> None:
    generator = make_generator()
    write_tf_pickle(tmp_path / "tf.pkl", generator, discriminator)
    network = load_network(tmp_path / "tf.pkl")
    assert network.metadata["source_format"] == "tf-pkl"
    assert network.generator.config == TINY
    assert_same_state(network.generator, generator)
    assert network.discriminator is not None and network.discriminator.config == TINY_D
    assert_same_state(network.discriminator, discriminator)
    z = torch.randn(2, TINY.z_dim)
    with torch.no_grad():
        assert torch.equal(network.generator(z), generator(z))
