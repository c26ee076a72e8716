"""Read NVIDIA network pickles (stylegan2-ada-pytorch, stylegan3's StyleGAN2 and StyleGAN3 T / R) without running
code from the file.

An allow-list unpickler turns every `torch_utils.persistence` record into a placeholder holding the module's
state; tensors are harvested under `named_parameters()` names and the architecture is read from the stored
module attributes (docs/formats.md). Old TensorFlow pickles go to `tf_pickle` (§2).
"""

from __future__ import annotations

import collections
import importlib
import io
import logging
import pickle
from pathlib import Path
from typing import Any

import torch
import torch._utils
from torch import Tensor

from stylegan_edit.files import CheckpointError, malformed
from stylegan_edit.formats.persistent import PersistentRecord
from stylegan_edit.formats.pickle_guard import check_pickle, check_torch_file
from stylegan_edit.generators import AnyGenerator, Network

logger = logging.getLogger(__name__)

# The first pickle of a pre-zip `torch.save` file (rosinality checkpoints from torch < 1.6) is this number.
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


class EasyDict(dict[str, Any]):
    """Stand-in for `dnnlib.util.EasyDict`: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class TFNetworkStub:
    """Stand-in for `dnnlib.tflib.network.Network` of old TensorFlow pickles; the state lands in `__dict__`."""


def _load_storage(data: bytes) -> Any:
    """`torch.storage._load_from_bytes` made safe: weights-only, and CUDA storages mapped to the CPU."""
    stream = io.BytesIO(data)
    check_torch_file(stream, "a tensor storage")
    return torch.load(stream, weights_only=True, map_location="cpu")


def _numpy(module: str, name: str) -> Any:
    # numpy 2 moved numpy.core to numpy._core; both spellings occur in pickles.
    try:
        return getattr(importlib.import_module(module.replace("numpy.core", "numpy._core")), name)
    except ImportError:
        return getattr(importlib.import_module(module), name)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentRecord,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("dnnlib.tflib.network", "Network"): TFNetworkStub,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("builtins", "set"): set,
}
_NUMPY = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    *((m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("scalar", "_reconstruct")),
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global that is not on the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualified_name = f"{module}.{name}"


class AllowListUnpickler(pickle.Unpickler):
    """Resolves only the globals NVIDIA network pickles need (docs/formats.md); anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if (module, name) in _NUMPY:
            return _numpy(module, name)
        raise RefusedGlobal(module, name)


def unpickle_safely(path: Path) -> Any:
    """Unpickle `path` with `AllowListUnpickler`, turning every failure into a one-line `CheckpointError`."""
    try:
        with path.open("rb") as handle:
            check_pickle(handle, path)
            return AllowListUnpickler(handle).load()
    except CheckpointError as exc:
        if str(path) in str(exc):
            raise
        raise CheckpointError(f"{path}: {exc}") from None
    except RefusedGlobal as exc:
        raise CheckpointError(
            f"{path}: refusing to load global {exc.qualified_name} (not on the allow-list of NVIDIA network pickles)"
        ) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # EOFError, UnpicklingError, and whatever a malformed stream makes the callables raise
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise CheckpointError(f"{path} is truncated or corrupt ({reason})") from None


def harvest_tensors(record: PersistentRecord, source: str | Path, prefix: str = "") -> dict[str, Tensor]:
    """State-dict tensors below `record`: own parameters, own persistent buffers, then children (dotted names)."""
    state = record.state
    tensors: dict[str, Tensor] = {}
    skipped = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in skipped):
                continue
            if not isinstance(value, Tensor):
                raise CheckpointError(f"{source}: {prefix}{name} is a {type(value).__name__}, not a tensor")
            tensors[prefix + name] = value.detach()
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise CheckpointError(f"{source}: module {prefix}{name} is not a persistent network object")
        tensors.update(harvest_tensors(child, source, f"{prefix}{name}."))
    return tensors


def read_nvidia_pickle(path: str | Path) -> Network:
    """Read the EMA generator (`G_ema`) and, when it can be expressed, the discriminator (`D`) of an NVIDIA pickle.

    Supports stylegan2-ada-pytorch snapshots, stylegan3 snapshots of all configs (StyleGAN2 with `skip` or
    `resnet` G, StyleGAN3 T and R; unconditional), and old TensorFlow StyleGAN2 pickles. NVIDIA's fp16
    snapshots store fp32 tensors; the loaded networks run in fp32 (≈1e-3 from NVIDIA's fp16 CUDA outputs).
    Raises `CheckpointError` with one clear line for corrupt files, refused globals, conditional networks and
    records the rebuilt network does not reproduce.
    """

    path = Path(path)
    data = unpickle_safely(path)
    with malformed(path, "NVIDIA network pickle"):
        return _read_snapshot(data, path)


def _read_snapshot(data: Any, path: Path) -> Network:
    from stylegan_edit.formats.nvidia_config import build_discriminator, build_generator
    from stylegan_edit.formats.nvidia_sg3 import build_stylegan3_generator, is_stylegan3_record

    if isinstance(data, int) and data == LEGACY_TORCH_MAGIC:
        from stylegan_edit.formats.rosinality import read_rosinality

        return read_rosinality(path)
    if isinstance(data, tuple) and len(data) == 3 and all(isinstance(x, TFNetworkStub) for x in data):
        from stylegan_edit.formats.tf_pickle import convert_tf_pickle

        return convert_tf_pickle(data, path)
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{path} is a pickle but not an NVIDIA network snapshot (it holds a {type(data).__name__}, "
            "not a dict with G_ema)"
        )
    g_ema = data.get("G_ema")
    if not isinstance(g_ema, PersistentRecord):
        keys = ", ".join(sorted(map(str, data))[:8]) or "none"
        raise CheckpointError(f"{path} has no G_ema network (keys: {keys})")
    tensors = harvest_tensors(g_ema, path)
    generator: AnyGenerator
    if is_stylegan3_record(g_ema, tensors):
        generator, metadata = build_stylegan3_generator(g_ema, tensors, path)
    else:
        generator, metadata = build_generator(g_ema, tensors, path)
    discriminator = None
    d = data.get("D")
    if isinstance(d, PersistentRecord):
        discriminator, note = build_discriminator(d, harvest_tensors(d, path), path)
        if note:
            logger.warning("%s: discriminator not loaded: %s", path, note)
            metadata["discriminator_note"] = f"not loaded: {note}"
    metadata.update(source_format="nvidia-pkl", source_file=path.name)
    return Network(generator, discriminator, metadata)
