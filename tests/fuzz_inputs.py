"""Test helper for the reader fuzz suite: small valid seed files of every format, the hypothesis strategies that
damage them, and hand-assembled hostile pickles (globals off the allow-list, code objects, nesting bombs)."""

from __future__ import annotations

import io
import json
import marshal
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from safetensors.torch import save as save_safetensors_bytes

from stylegan_edit.classifiers.attributes import AttributeClassifier, ClassifierConfig, save_classifier
from stylegan_edit.editors.direction import Direction, GeneratorSignature
from stylegan_edit.encoders import EncoderConfig
from stylegan_edit.encoders.checkpoint import save_encoder
from stylegan_edit.encoders.encoder import build_encoder
from stylegan_edit.formats.native import save_network
from stylegan_edit.formats.rosinality import write_rosinality
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, GeneratorConfig, Network
from stylegan_edit.latents import Latents, LatentSpace
from tests import nvidia_pickle_writer, tf_pickle_writer
from tests.conftest import TINY_ENCODER, make_generator

ROSINALITY = GeneratorConfig(img_resolution=8, z_dim=16, w_dim=16, mapping_layers=2)
TINY_D = DiscriminatorConfig(img_resolution=16, channel_base=256, channel_max=32)
TINY_CLASSIFIER = ClassifierConfig(resolution=8, channels=(4, 4), embedding_dim=4)
SAFETENSORS_READERS = ("native", "latents", "direction", "encoder", "classifier")
ONE_TB = 1 << 40


class Damaged:
    """A damaged file: what was done to it (its repr, so failure reports stay short) and its bytes."""

    def __init__(self, what: str, data: bytes) -> None:
        self.what, self.data = what, data

    def __repr__(self) -> str:
        return f"Damaged({self.what!r}, {len(self.data)} bytes)"


def write_seeds(folder: Path) -> dict[str, Path]:
    """One small valid file per reader, written into `folder`: reader name -> path."""
    generator = make_generator()
    torch.manual_seed(1)
    discriminator = Discriminator(TINY_D).eval()
    paths = {
        "native": folder / "network.safetensors",
        "nvidia": folder / "network.pkl",
        "tf": folder / "network-tf.pkl",
        "rosinality": folder / "network.pt",
        "latents": folder / "latents.safetensors",
        "npz": folder / "projected_w.npz",
        "direction": folder / "direction.safetensors",
        "encoder": folder / "encoder.safetensors",
        "classifier": folder / "classifier.safetensors",
    }
    save_network(paths["native"], generator, discriminator)
    nvidia_pickle_writer.write_nvidia_pickle(paths["nvidia"], generator, discriminator)
    tf_pickle_writer.write_tf_pickle(paths["tf"], generator, discriminator)
    write_rosinality(paths["rosinality"], Network(make_generator(ROSINALITY, seed=2), None), dtype=torch.float16)
    latents = Latents(torch.randn(2, generator.num_ws, generator.w_dim), LatentSpace.W_PLUS)
    latents.save(paths["latents"])
    latents.save_npz(paths["npz"])
    Direction(
        vector=torch.nn.functional.normalize(torch.randn(generator.w_dim), dim=0),
        space=LatentSpace.W,
        name="fuzz",
        method="svm",
        hyperparameters={"c": 1.0},
        layers=(0, 1),
        statistics={"accuracy": 0.9},
        generator=GeneratorSignature.of(generator),
    ).save(paths["direction"])
    encoder_config = EncoderConfig.for_generator(generator, arch="e4e", **TINY_ENCODER)  # type: ignore[arg-type]
    save_encoder(paths["encoder"], build_encoder(encoder_config), metadata={"data": "fuzz"})
    torch.manual_seed(2)
    save_classifier(paths["classifier"], AttributeClassifier(TINY_CLASSIFIER).eval())
    return paths


# -- byte-level damage -------------------------------------------------------------------------------------------


def _offset(size: int) -> st.SearchStrategy[int]:
    """An offset, biased towards the first and last 4 KiB, where headers, pickle opcodes and zip directories live."""
    edge = min(size, 4096)
    return st.one_of(st.integers(0, edge - 1), st.integers(size - edge, size - 1), st.integers(0, size - 1))


@st.composite
def byte_damage(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """`(description, damaged bytes)`: a truncation, k bit flips, an overwritten byte range or appended junk."""
    kind = draw(st.sampled_from(["truncate", "bitflip", "overwrite", "append"]))
    size = len(data)
    if kind == "truncate":
        cut = draw(_offset(size))
        return f"truncated to {cut} bytes", data[:cut]
    if kind == "bitflip":
        bits = draw(st.lists(_offset(size).map(lambda o: o * 8), min_size=1, max_size=8))
        bits = [b + draw(st.integers(0, 7)) for b in bits]
        damaged = bytearray(data)
        for bit in bits:
            damaged[bit // 8] ^= 1 << (bit % 8)
        return f"bits {bits} flipped", bytes(damaged)
    if kind == "overwrite":
        start = draw(_offset(size))
        junk = draw(st.binary(min_size=1, max_size=64))
        return f"bytes {start}..{start + len(junk)} overwritten", data[:start] + junk + data[start + len(junk) :]
    junk = draw(st.binary(min_size=1, max_size=256))
    return f"{len(junk)} junk bytes appended", data + junk


# -- safetensors header damage -----------------------------------------------------------------------------------


def split_safetensors(data: bytes) -> tuple[dict[str, Any], bytes]:
    size = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def join_safetensors(header: dict[str, Any], body: bytes, *, claimed: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if claimed is None else claimed) + raw + body


HUGE_INTS = st.sampled_from([2**31, 2**32 + 16, ONE_TB, 2**62, 2**63 - 1, 2**64 - 1, 2**64, -1, -(2**63)])
ODD_VALUES: st.SearchStrategy[Any] = st.one_of(
    HUGE_INTS,
    st.integers(-4, 64),
    st.sampled_from([None, "", "x", [], {}, [1, "a"], 1.5, float("nan"), True]),
    st.text(max_size=8),
)


@st.composite
def header_damage(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """A safetensors file whose header lies: a length field claiming up to 1 TB, or a tensor entry (dtype, shape,
    offsets) or metadata value replaced by a wrong one."""
    header, body = split_safetensors(data)
    kind = draw(st.sampled_from(["length", "dtype", "shape", "offsets", "metadata", "drop"]))
    if kind == "length":
        claimed = draw(st.one_of(HUGE_INTS.filter(lambda v: 0 <= v < 2**64), st.integers(0, len(data) + 64)))
        raw = json.dumps(header).encode()
        return f"header length claims {claimed}", struct.pack("<Q", claimed) + raw + body
    if kind == "metadata":
        meta = header.setdefault("__metadata__", {})
        key = draw(st.sampled_from(sorted(meta) or ["format"]))
        value = draw(st.one_of(ODD_VALUES.map(json.dumps), st.text(max_size=16), _config_damage(meta.get(key))))
        meta[key] = value
        return f"metadata {key} = {value[:80]!r}", join_safetensors(header, body)
    names = sorted(k for k in header if k != "__metadata__")
    name = draw(st.sampled_from(names))
    if kind == "drop":
        del header[name]
        return f"tensor {name} dropped", join_safetensors(header, body)
    entry = header[name]
    if kind == "dtype":
        entry["dtype"] = draw(st.sampled_from(["F64", "F16", "BF16", "I8", "U8", "I64", "BOOL", "F8_E4M3", "XX", ""]))
    elif kind == "shape":
        entry["shape"] = draw(st.lists(st.one_of(st.integers(0, 40), HUGE_INTS), max_size=4))
    else:
        entry["data_offsets"] = draw(st.lists(st.one_of(st.integers(0, len(body) + 8), HUGE_INTS), max_size=3))
    return f"tensor {name} {kind} = {entry}", join_safetensors(header, body)


@st.composite
def _config_damage(draw: st.DrawFn, value: str | None) -> str:
    """A JSON config from the metadata with one field set to an odd value (sizes up to 2**64 among them)."""
    try:
        config = json.loads(value) if value is not None else None
    except json.JSONDecodeError:
        config = None
    if not isinstance(config, dict) or not config:
        return draw(st.text(max_size=8))
    key = draw(st.sampled_from(sorted(config)))
    config[key] = draw(ODD_VALUES)
    return json.dumps(config)


@st.composite
def tensor_damage(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """The right tensor names with a wrong shape or dtype (a well-formed safetensors file)."""
    from safetensors.torch import load as load_safetensors_bytes

    header, _ = split_safetensors(data)
    tensors = load_safetensors_bytes(data)
    name = draw(st.sampled_from(sorted(tensors)))
    if draw(st.booleans()):
        shape = draw(st.lists(st.integers(0, 5), max_size=4))
        tensors[name] = torch.randn(shape)
        what = f"shape {shape}"
    else:
        dtype = draw(
            st.sampled_from([torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.uint8, torch.bool])
        )
        tensors[name] = tensors[name].to(dtype)
        what = f"dtype {dtype}"
    if draw(st.booleans()):
        tensors[name] = tensors[name].fill_(float("nan")) if tensors[name].is_floating_point() else tensors[name]
        what += " (NaN)"
    return f"tensor {name} with {what}", save_safetensors_bytes(tensors, metadata=header.get("__metadata__"))


# -- structured damage of the foreign formats --------------------------------------------------------------------

HOSTILE_VALUES = st.one_of(
    ODD_VALUES,
    st.sampled_from(
        [
            torch.zeros(3),
            torch.zeros(1).expand(40_000, 40_000),  # 6.4 GB if anything materialises it
            torch.zeros(2, 2, dtype=torch.complex64),
            torch.zeros(4, dtype=torch.int8),
            np.zeros(3),
            np.array("text"),
        ]
    ),
)


def _records(record: nvidia_pickle_writer.Record) -> list[nvidia_pickle_writer.Record]:
    found = [record]
    for child in record.state.get("_modules", {}).values():
        if isinstance(child, nvidia_pickle_writer.Record):
            found.extend(_records(child))
    return found


@st.composite
def nvidia_record_damage(draw: st.DrawFn, network: Network) -> tuple[str, bytes]:
    """An NVIDIA snapshot with one module attribute, parameter or buffer set to a wrong or hostile value."""
    snapshot = nvidia_pickle_writer.snapshot_records(network.generator, network.discriminator)
    records = _records(snapshot["G_ema"]) + _records(snapshot["D"])
    record = draw(st.sampled_from(records))
    groups = [g for g in ("_parameters", "_buffers") if record.state.get(g)]
    where = draw(st.sampled_from(["attribute", "record", *groups]))
    value = draw(HOSTILE_VALUES)
    if where == "record":
        record.meta[draw(st.sampled_from(["class_name", "state"]))] = value
    elif where == "attribute":
        names = sorted(k for k in record.state if not k.startswith("_")) or ["img_resolution"]
        record.state[draw(st.sampled_from(names))] = value
    else:
        record.state[where][draw(st.sampled_from(sorted(record.state[where])))] = value
    buffer = io.BytesIO()
    nvidia_pickle_writer.NvidiaLayoutPickler(buffer, protocol=4).dump(snapshot)
    return f"{record.meta['class_name']} {where} set to {type(value).__name__}", buffer.getvalue()


@st.composite
def tf_variable_damage(draw: st.DrawFn, network: Network) -> tuple[str, bytes]:
    """A TF `(G, D, Gs)` pickle with one variable or build kwarg dropped, reshaped or set to a wrong value."""
    g, d = network.generator, network.discriminator
    assert d is not None
    stubs = [
        tf_pickle_writer.tf_generator(g),
        tf_pickle_writer.tf_discriminator(d),
        tf_pickle_writer.tf_generator(g, "Gs"),
    ]
    components: list[Any] = [stub.state["components"] for stub in stubs]
    targets = [*stubs, *(c for found in components for c in found.values())]
    stub = draw(st.sampled_from(targets))
    state: dict[str, Any] = stub.state
    variables: list[Any] = state["variables"]
    kind = draw(st.sampled_from(["drop", "value", "kwarg"]))
    if kind == "kwarg":
        state["static_kwargs"][draw(st.sampled_from(["resolution", "label_size", "fmap_base", "conv_clamp"]))] = draw(
            ODD_VALUES
        )
    elif variables:
        index = draw(st.integers(0, len(variables) - 1))
        name = variables[index][0]
        if kind == "drop":
            del variables[index]
        else:
            shape = draw(st.lists(st.integers(0, 5), max_size=4))
            variables[index] = (name, draw(st.sampled_from([np.zeros(shape, np.float32), np.array("x"), None])))
    buffer = io.BytesIO()
    tf_pickle_writer.TFPickler(buffer, protocol=3).dump(tuple(stubs))
    return f"TF {stub.state['name']} {kind}", buffer.getvalue()


@st.composite
def rosinality_damage(draw: st.DrawFn, checkpoint: dict[str, Any]) -> tuple[str, bytes]:
    """A rosinality checkpoint (weights-only loadable) with one entry dropped, reshaped or set to a wrong value."""
    import argparse

    state = dict(checkpoint["g_ema"])
    top = dict(checkpoint, g_ema=state)
    kind = draw(st.sampled_from(["drop", "shape", "latent_avg", "args", "g_ema"]))
    name = draw(st.sampled_from(sorted(state)))
    if kind == "drop":
        del state[name]
    elif kind == "shape":
        state[name] = torch.randn(draw(st.lists(st.integers(0, 5), max_size=5)))
    elif kind == "latent_avg":
        top["latent_avg"] = draw(st.sampled_from([torch.zeros(3), torch.zeros(0), "x", None]))
    elif kind == "args":
        field = draw(st.sampled_from(["size", "latent", "n_mlp", "channel_multiplier", "arch"]))
        top["args"] = argparse.Namespace(**{field: draw(st.one_of(st.integers(-2, 2**40), st.text(max_size=4)))})
    else:
        top["g_ema"] = draw(st.sampled_from([[], "x", {1: torch.zeros(1)}, None]))
    buffer = io.BytesIO()
    torch.save(top, buffer)
    return f"rosinality {kind} {name}", buffer.getvalue()


@st.composite
def npz_damage(draw: st.DrawFn) -> tuple[str, bytes]:
    """A well-formed npz whose arrays are wrongly named, shaped or typed."""
    shape = draw(st.lists(st.integers(0, 4), max_size=4))
    dtype = draw(st.sampled_from(["f4", "f8", "f2", "i8", "u1", "?", "c8", "U3", "M8[s]"]))
    name = draw(st.sampled_from(["w", "ws", "latents"]))
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.zeros(shape, dtype=dtype)})  # type: ignore[arg-type]
    return f"npz {name}: {dtype} {shape}", buffer.getvalue()


def npz_claiming(shape: tuple[int, ...], *, dtype: str = "<f4") -> bytes:
    """An npz whose `w.npy` header claims `shape` while it holds 64 bytes of data."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("w.npy", npy.getvalue() + bytes(64))
    return buffer.getvalue()


# -- hostile pickles ---------------------------------------------------------------------------------------------


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call(module: str, name: str, *args: bytes) -> bytes:
    """Opcodes that call `module.name(*args)`, each arg already assembled."""
    return _global(module, name) + b"(" + b"".join(args) + b"tR"


def pickle_of(body: bytes, *, protocol: int = 2) -> bytes:
    return b"\x80" + bytes([protocol]) + body + b"."


def code_payload(sentinel: Path) -> bytes:
    """`types.FunctionType(marshal.loads(<code that creates sentinel>), {})()`: a code object inside a pickle."""
    code = compile(f"open({str(sentinel)!r}, 'w').close()", "<fuzz>", "exec")
    raw = marshal.dumps(code)
    loads = call("marshal", "loads", b"B" + struct.pack("<I", len(raw)) + raw)
    function = _global("types", "FunctionType") + b"(" + loads + b"}" + b"tR"
    return function + b")R"


def hostile_payloads(sentinel: Path) -> dict[str, bytes]:
    """Pickle bodies that would create `sentinel` if any global they name were resolved: name -> opcodes."""
    command = f"touch {sentinel}"
    python = f"open({str(sentinel)!r}, 'w').close()"
    return {
        "os.system": call("os", "system", _str(command)),
        "posix.system": call("posix", "system", _str(command)),
        "builtins.exec": call("builtins", "exec", _str(python)),
        "builtins.eval": call("builtins", "eval", _str(python)),
        "subprocess.Popen": call("subprocess", "Popen", b"](" + _str("touch") + _str(str(sentinel)) + b"e"),
        "getattr(__import__('os'), 'system')": _global("builtins", "getattr")
        + b"("
        + call("builtins", "__import__", _str("os"))
        + _str("system")
        + b"tR("
        + _str(command)
        + b"tR",
        "code object": code_payload(sentinel),
        "numpy.testing runstring": call("numpy.testing._private.utils", "runstring", _str(python), b"}"),
        "torch.load (nested, full pickle)": call("torch", "load", _str(str(sentinel))),
    }


def in_snapshot(payload: bytes) -> bytes:
    """`{'G_ema': payload}`: the payload where a reader looks first."""
    return pickle_of(b"}" + _str("G_ema") + payload + b"s")


def torch_zip(payload: bytes) -> bytes:
    """A `torch.save` zip archive whose `data.pkl` is `payload` (a whole pickle)."""
    template = io.BytesIO()
    torch.save({"g_ema": {}}, template)
    source = zipfile.ZipFile(io.BytesIO(template.getvalue()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for info in source.infolist():
            data = payload if info.filename.endswith("/data.pkl") else source.read(info)
            archive.writestr(info.filename, data)
    return buffer.getvalue()


def storage_blob(blob: bytes) -> bytes:
    """An NVIDIA snapshot whose G_ema is `torch.storage._load_from_bytes(blob)` (zip-in-pickle)."""
    return in_snapshot(call("torch.storage", "_load_from_bytes", b"B" + struct.pack("<I", len(blob)) + blob))


def bombs() -> dict[str, bytes]:
    """Pickles built to exhaust the stack, the C recursion limit or memory: name -> bytes."""
    depth = 200_000
    return {
        "nested tuple as a dict key": pickle_of(b"}" + b")" + b"\x85" * depth + b"K\x01s"),
        "nested tuples": pickle_of(b")" + b"\x85" * depth),
        "nested lists": pickle_of(b"]" * depth + b"a" * (depth - 1)),
        "nested frozensets": pickle_of(b"(" * depth + b"\x91" * depth, protocol=4),
        "set of a nested tuple": pickle_of(call("builtins", "set", b"]" + b")" + b"\x85" * depth + b"a")),
        "memo repetition (300k references)": pickle_of(b"]q\x00(" + b"h\x00" * 300_000 + b"e"),
        "long claiming 2**40 bytes": pickle_of(b"\x8b" + struct.pack("<i", 2**31 - 1)),
        "bytes claiming 2**63": pickle_of(b"\x8e" + struct.pack("<Q", 2**63), protocol=4),
        "string claiming 4 GB": pickle_of(b"X" + struct.pack("<I", 2**32 - 1)),
    }
