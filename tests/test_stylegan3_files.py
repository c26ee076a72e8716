"""StyleGAN3 files: NVIDIA stylegan3 snapshot pickles (written here in NVIDIA's layout, without NVIDIA's code) read
back into the same network, native safetensors round trips, `stylegan-edit convert`, and one-line refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open

from stylegan_edit.cli.convert import convert
from stylegan_edit.files import CheckpointError
from stylegan_edit.formats.native import load_network, save_network
from stylegan_edit.formats.nvidia_pickle import read_nvidia_pickle
from stylegan_edit.generators import (
    Discriminator,
    DiscriminatorConfig,
    Network,
    StyleGAN3Config,
    StyleGAN3Generator,
)
from tests.conftest import make_generator
from tests.fuzz_inputs import HOSTILE_VALUES
from tests.nvidia_pickle_writer import (
    Record,
    dump_nvidia_pickle,
    snapshot_records,
    stylegan3_init_kwargs,
    write_nvidia_pickle,
)

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(z_dim=32, w_dim=32, channel_base=2048, channel_max=64)
R = dict(conv_kernel=1, use_radial_filters=True)
# Every schedule knob away from NVIDIA's defaults, so that a field read from the wrong place cannot pass.
ODD = dict(
    num_layers=8,
    num_critical=3,
    first_cutoff=3.0,
    first_stopband=2**2.4,
    last_stopband_rel=2**0.45,
    margin_size=6,
    output_scale=0.5,
    num_fp16_res=2,
    filter_size=4,
    conv_clamp=None,
    magnitude_ema_beta=0.99,
    mapping_layers=3,
    mapping_lr_multiplier=0.02,
    w_avg_beta=0.99,
    channel_base=3000,
    channel_max=48,
)
CASES = {"t32": (32, {}), "r64": (64, R), "odd-t64": (64, ODD), "odd-r32": (32, {**ODD, **R})}


def sg3_generator(res: int = 32, seed: int = 0, **changes: Any) -> StyleGAN3Generator:
    """A small StyleGAN3 with random biases, magnitude EMAs, w_avg and input affine, so a mis-mapped tensor shows."""
    torch.manual_seed(seed)
    generator = StyleGAN3Generator(StyleGAN3Config(img_resolution=res, **{**SMALL, **changes})).eval()
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.1)
        for layer in generator.synthesis.layers:
            layer.magnitude_ema.fill_(float(torch.rand([]) + 0.5))
        generator.synthesis.input.affine.weight.normal_(0, 0.3)
        generator.mapping.w_avg.normal_()
    return generator.requires_grad_(False)


def assert_same_state(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def images(generator: torch.nn.Module, seed: int = 1) -> torch.Tensor:
    z = torch.randn([3, 32], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return generator(z, truncation_psi=0.7)


@pytest.mark.parametrize("kwargs", ["recorded", "stripped"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_nvidia_stylegan3_pickle_reads_back_the_same_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, kwargs: str
) -> None:
    monkeypatch.chdir(tmp_path)  # module_src would write EXECUTED_MODULE_SRC here if anything ran it
    res, changes = CASES[case]
    generator = sg3_generator(res, **changes)
    snapshot = snapshot_records(generator)
    if kwargs == "stripped":  # nothing to go on but the module attributes and the tensors
        for record in _records(snapshot["G_ema"]):
            record.state["_init_kwargs"] = {}
    dump_nvidia_pickle(tmp_path / "sg3.pkl", snapshot)
    network = load_network(tmp_path / "sg3.pkl")
    assert isinstance(network.generator, StyleGAN3Generator)
    loaded = network.generator.config
    if kwargs == "recorded":
        assert loaded == generator.config
    else:  # the layers fix channel_base and the stopbands only up to an interval, all of it the same network
        for ours, theirs in zip(loaded.layers(), generator.config.layers(), strict=True):
            assert dataclasses.astuple(ours) == pytest.approx(dataclasses.astuple(theirs), rel=1e-12)
        implicit = ("channel_base", "first_stopband", "last_stopband_rel")
        assert dataclasses.replace(loaded, **{k: getattr(generator.config, k) for k in implicit}) == generator.config
    assert_same_state(network.generator, generator)
    assert torch.equal(images(network.generator), images(generator))
    assert network.metadata["source_format"] == "nvidia-pkl"
    assert ("fp16" in network.metadata.get("note", "")) == (generator.config.num_fp16_res > 0)
    assert not (tmp_path / "EXECUTED_MODULE_SRC").exists()


def test_snapshot_records_keep_nvidia_attribute_types() -> None:
    g_ema = snapshot_records(sg3_generator(32, **R))["G_ema"]
    layer = g_ema.child("synthesis").child("L0_36_64")
    assert isinstance(layer.state["in_size"], np.ndarray) and layer.state["in_size"].tolist() == [36, 36]
    assert type(layer.state["in_cutoff"]) is np.float64 and type(layer.state["use_fp16"]) is np.bool_
    assert layer.state["_buffers"]["up_filter"] is not None
    torgb = g_ema.child("synthesis").child("L14_32_3")
    assert torgb.state["_buffers"]["up_filter"] is None and torgb.state["_buffers"]["down_filter"] is None
    assert g_ema.state["_init_kwargs"]["mapping_kwargs"] == {"num_layers": 2}
    assert g_ema.state["_init_kwargs"]["conv_kernel"] == 1 and "num_layers" not in g_ema.state["_init_kwargs"]


def test_stylegan3_snapshot_with_its_stylegan2_discriminator(tmp_path: Path) -> None:
    generator = sg3_generator(32)
    torch.manual_seed(3)
    discriminator = Discriminator(DiscriminatorConfig(img_resolution=32, channel_base=512, channel_max=32)).eval()
    write_nvidia_pickle(tmp_path / "sg3.pkl", generator, discriminator)
    network = read_nvidia_pickle(tmp_path / "sg3.pkl")
    assert network.discriminator is not None and network.discriminator.config == discriminator.config
    assert_same_state(network.discriminator, discriminator)
    assert torch.equal(images(network.generator), images(generator))


def test_transform_buffer_loads_and_set_transform_acts_on_the_loaded_network(tmp_path: Path) -> None:
    generator = sg3_generator(32)
    write_nvidia_pickle(tmp_path / "identity.pkl", generator)
    loaded = read_nvidia_pickle(tmp_path / "identity.pkl").generator
    assert isinstance(loaded, StyleGAN3Generator) and torch.equal(loaded.transform, torch.eye(3))
    generator.set_transform(translate=(0.1, -0.2), rotate=30.0)
    loaded.set_transform(translate=(0.1, -0.2), rotate=30.0)
    assert torch.equal(images(loaded), images(generator))
    write_nvidia_pickle(tmp_path / "moved.pkl", generator)  # a pickle saved after gen_images.py set the buffer
    moved = read_nvidia_pickle(tmp_path / "moved.pkl").generator
    assert isinstance(moved, StyleGAN3Generator) and torch.equal(moved.transform, generator.transform)
    assert torch.equal(images(moved), images(generator))
    assert not torch.allclose(images(moved), images(sg3_generator(32)), atol=1e-3)


@pytest.mark.parametrize("case", ["t32", "r64"])
def test_native_round_trip_and_half(tmp_path: Path, case: str) -> None:
    res, changes = CASES[case]
    generator = sg3_generator(res, **changes)
    save_network(tmp_path / "full.safetensors", generator, metadata={"generator_class": "stylegan2", "note": "x"})
    with safe_open(str(tmp_path / "full.safetensors"), framework="pt") as handle:
        assert handle.metadata()["generator_class"] == "stylegan3"  # never the caller's copied metadata
    network = load_network(tmp_path / "full.safetensors")
    assert network.generator.config == generator.config and network.metadata["note"] == "x"
    assert "generator_class" not in network.metadata
    assert_same_state(network.generator, generator)
    assert torch.equal(images(network.generator), images(generator))

    save_network(tmp_path / "half.safetensors", generator, dtype=torch.float16)
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (tmp_path / "full.safetensors").stat().st_size
    half = load_network(tmp_path / "half.safetensors").generator
    error = (images(half) - images(generator)).abs().max() / images(generator).abs().max()
    assert 0 < error < 0.02


def test_stylegan2_files_carry_no_generator_class(tmp_path: Path) -> None:
    save_network(tmp_path / "sg2.safetensors", make_generator(), metadata={"generator_class": "stylegan3"})
    with safe_open(str(tmp_path / "sg2.safetensors"), framework="pt") as handle:
        assert "generator_class" not in handle.metadata()
    assert load_network(tmp_path / "sg2.safetensors").generator.config == make_generator().config


@pytest.mark.parametrize(
    ("field", "lie", "message"),
    [
        ("num_layers", 40, "the config has 41 synthesis layers, the file tensors for 15"),
        ("filter_size", 12000, "layer L0_36_64 has a 24000-tap upsampling filter, the file stores 12"),
        ("num_fp16_res", 2**62, r"invalid config in its metadata: num_fp16_res must be in \[0, 32\]"),
    ],
)
def test_native_config_claiming_more_than_the_tensors_hold_is_refused(
    tmp_path: Path, field: str, lie: int, message: str
) -> None:
    from safetensors.torch import load_file, save_file

    save_network(tmp_path / "net.safetensors", sg3_generator(32))
    with safe_open(str(tmp_path / "net.safetensors"), framework="pt") as handle:
        meta = handle.metadata()
    config = json.loads(meta["generator_config"])
    config[field] = lie
    lying = dict(meta, generator_config=json.dumps(config))
    save_file(load_file(str(tmp_path / "net.safetensors")), str(tmp_path / "lie.safetensors"), metadata=lying)
    with pytest.raises(CheckpointError, match=message):
        load_network(tmp_path / "lie.safetensors")


def test_convert_cli_on_a_stylegan3_pickle(tmp_path: Path) -> None:
    generator = sg3_generator(32, **R)
    write_nvidia_pickle(tmp_path / "sg3.pkl", generator)
    runner = CliRunner()
    result = runner.invoke(convert, [str(tmp_path / "sg3.pkl"), str(tmp_path / "sg3.safetensors")])
    assert result.exit_code == 0, result.output
    assert "native, generator" in result.output
    network = load_network(tmp_path / "sg3.safetensors")
    assert network.metadata["source_format"] == "nvidia-pkl"
    assert torch.equal(images(network.generator), images(generator))
    refused = runner.invoke(convert, [str(tmp_path / "sg3.pkl"), str(tmp_path / "sg3.pt")])
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "Error: rosinality files hold StyleGAN2 generators only; write a StyleGAN3 network as .safetensors"
    ]
    assert not (tmp_path / "sg3.pt").exists()


def _records(record: Record) -> list[Record]:
    found = [record]
    for child in record.state.get("_modules", {}).values():
        if isinstance(child, Record):
            found.extend(_records(child))
    return found


def _layer(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    return snapshot["G_ema"].child("synthesis").child(name).state


def _set(name: str, key: str, value: Any) -> Any:
    return lambda s: _layer(s, name).__setitem__(key, value)


DAMAGE: dict[str, tuple[Any, str]] = {
    "sampling rate": (_set("L3_36_64", "out_sampling_rate", 32), r"layer L3_36_64: out_sampling_rate: the pickle "),
    "cutoff": (_set("L6_52_64", "in_cutoff", np.float64(5.0)), r"layer L6_52_64: in_cutoff: the pickle stores 5\.0"),
    "taps": (_set("L2_36_64", "up_taps", 18), r"layer L2_36_64: up_taps: the pickle stores 18, the rebuilt .* 12"),
    "padding": (_set("L5_52_64", "padding", [1, 2, 3, 4]), r"layer L5_52_64: padding: the pickle stores \[1, 2"),
    "clamp": (_set("L9_52_64", "conv_clamp", 64), r"layer L9_52_64: conv_clamp: the pickle stores 64\.0"),
    "non-square": (_set("L0_36_64", "in_size", np.array([36, 40])), r"in_size is 36x40; only square"),
    "missing tensor": (
        lambda s: _layer(s, "L5_52_64")["_parameters"].pop("weight"),
        r"tensors do not match the architecture: missing synthesis\.L5_52_64\.weight",
    ),
    "missing filter": (
        lambda s: _layer(s, "L4_36_64")["_buffers"].__setitem__("down_filter", None),
        r"layer L4_36_64 has a 12-tap downsampling filter, the file stores 1",
    ),
    "layer list": (
        lambda s: s["G_ema"].child("synthesis").state["layer_names"].pop(7),
        r"14 synthesis layers listed, num_layers says 14",
    ),
    "input": (
        lambda s: s["G_ema"].child("synthesis").child("input").state.__setitem__("bandwidth", np.float64(3)),
        r"synthesis\.input: bandwidth: the pickle stores 3\.0",
    ),
    "text": (_set("L1_36_64", "out_cutoff", "2.0"), r"synthesis\.L1_36_64\.out_cutoff is '2\.0', not a finite number"),
    "conditional": (
        lambda s: s["G_ema"].state.__setitem__("c_dim", 10),
        r"conditional networks \(c_dim > 0\) are not supported yet",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_stylegan3_records_give_one_line(tmp_path: Path, damage: str) -> None:
    snapshot = snapshot_records(sg3_generator(32))
    apply, message = DAMAGE[damage]
    apply(snapshot)
    dump_nvidia_pickle(tmp_path / "bad.pkl", snapshot)
    with pytest.raises(CheckpointError, match=message) as caught:
        read_nvidia_pickle(tmp_path / "bad.pkl")
    assert str(tmp_path / "bad.pkl") in str(caught.value) and "\n" not in str(caught.value)


def test_stylegan2_pickle_is_not_taken_for_stylegan3_by_its_source_text(tmp_path: Path) -> None:
    generator = make_generator()
    write_nvidia_pickle(tmp_path / "sg2.pkl", generator, module_src="from torch_utils.ops import filtered_lrelu\n")
    network = read_nvidia_pickle(tmp_path / "sg2.pkl")
    assert network.generator.config == generator.config


def test_stylegan2_record_with_a_fourier_input_is_read_as_stylegan3_and_refused(tmp_path: Path) -> None:
    snapshot = snapshot_records(make_generator())
    synthesis = snapshot["G_ema"].child("synthesis")
    synthesis.state["_modules"]["input"] = Record("SynthesisInput", {"_parameters": {}}, "")
    dump_nvidia_pickle(tmp_path / "mixed.pkl", snapshot)
    with pytest.raises(
        CheckpointError, match=r"mixed\.pkl: the StyleGAN3 synthesis network has no list of layer_names"
    ):
        read_nvidia_pickle(tmp_path / "mixed.pkl")


@pytest.fixture(scope="module")
def hostile_base() -> dict[str, Any]:
    return snapshot_records(sg3_generator(32, **R))


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_hostile_values_in_stylegan3_records_are_refused_or_read(
    data: st.DataObject, hostile_base: dict[str, Any], tmp_path: Path
) -> None:
    records = _records(hostile_base["G_ema"])
    record = data.draw(st.sampled_from(records))
    names = sorted(k for k in record.state if not k.startswith("_"))
    name = data.draw(st.sampled_from(names))
    value = data.draw(HOSTILE_VALUES)
    saved = record.state[name]
    record.state[name] = value
    try:
        dump_nvidia_pickle(tmp_path / "hostile.pkl", hostile_base)
    finally:
        record.state[name] = saved
    try:
        network = read_nvidia_pickle(tmp_path / "hostile.pkl")
    except CheckpointError as exc:
        assert str(tmp_path / "hostile.pkl") in str(exc) and "\n" not in str(exc), str(exc)
        return
    assert isinstance(network, Network) and isinstance(network.generator, StyleGAN3Generator)


def test_init_kwargs_follow_train_py() -> None:
    kwargs = stylegan3_init_kwargs(StyleGAN3Config.preset("stylegan3-r", 256, magnitude_ema_beta=0.5**0.0016))
    assert list(kwargs) == [
        "z_dim", "w_dim", "mapping_kwargs", "channel_base", "channel_max", "magnitude_ema_beta", "conv_kernel",
        "use_radial_filters", "c_dim", "img_resolution", "img_channels",
    ]  # fmt: skip
