"""Files: atomic writes, the one safetensors reader/writer (tensors + string metadata + format checks), strict
state-dict loading, dataclass <-> JSON configs, and the per-user cache folder."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import Tensor, nn

CACHE_ENV = "STYLEGAN_EDIT_CACHE"
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.[A-Za-z0-9]+")  # atomic_path's names: mkstemp's 8 characters
logger = logging.getLogger(__name__)
M = TypeVar("M", bound="nn.Module")


class CheckpointError(ValueError):
    """A file that cannot be read: the message names the file and what is wrong."""


@contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto `path`, else delete it.

    `suffix` keeps an extension that a writer insists on (numpy appends `.npz` to names without it).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=folder)
    except OSError as exc:
        raise OSError(f"cannot write to {folder}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes owner-only files (and some writers recreate the file): give the result the
        # permissions a plain open() would, after the writer is done.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files `atomic_path` writes into `folder` when their process was killed before the
    rename (`.{name}.{8 random characters}{suffix}`), logging each; return them. Only the process that writes the
    folder may call this (a live writer's temporary file would go too)."""
    stale = [p for p in Path(folder).glob(".*") if p.is_file() and _TEMPORARY.fullmatch(p.name)]
    for path in stale:
        path.unlink(missing_ok=True)
        logger.info("removed %s, left by an interrupted write", path.name)
    return stale


def cache_dir() -> Path:
    """`$STYLEGAN_EDIT_CACHE`, else `$XDG_CACHE_HOME/stylegan-edit`, else `~/.cache/stylegan-edit` (not created)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "stylegan-edit"


def write_safetensors(
    path: str | Path,
    tensors: Mapping[str, Tensor],
    metadata: Mapping[str, str],
    *,
    dtype: torch.dtype | None = None,
) -> None:
    """Write `tensors` (moved to the CPU; floating ones cast to `dtype` when given) with string `metadata`,
    atomically."""
    from safetensors.torch import save_file

    prepared = {}
    for key, value in tensors.items():
        value = value.detach().to("cpu")
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        prepared[key] = value.contiguous()
    with atomic_path(path) as tmp:
        save_file(prepared, str(tmp), metadata=dict(metadata))


def read_safetensors(
    path: str | Path,
    *,
    what: str = "safetensors file",
    format: str | None = None,
    version: int | None = None,
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors and the metadata of a safetensors file.

    With `format`, the metadata's `format` must equal it and its `format_version` must equal `version`.
    Every failure is a `CheckpointError` naming the file and the problem, e.g. "x.safetensors is not a
    readable direction file (...)".
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what}" if not path.is_dir() else f"{path} is a folder, not a {what}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
            found = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 (not a dict)
    except Exception as exc:  # safetensors raises SafetensorError, OSError or RuntimeError
        raise CheckpointError(f"{path} is not a readable {what}: truncated or corrupt ({exc})") from None
    if format is not None:
        check_format(path, meta, format=format, version=version, what=what)
    return found, meta


def check_format(path: str | Path, meta: Mapping[str, str], *, format: str, version: int | None, what: str) -> None:
    """A `CheckpointError` unless the metadata names `format` (and `version`, when given)."""
    if meta.get("format") != format:
        raise CheckpointError(f"{path} is a safetensors file but not a {what} (format {meta.get('format')!r})")
    if version is None:
        return
    found = meta.get("format_version", "0")
    if found != str(version):
        raise CheckpointError(
            f"{path} has {what} format version {found}; this stylegan-edit reads version {version} "
            "(convert it with the version that wrote it)"
        )


@contextmanager
def malformed(path: str | Path, what: str) -> Iterator[None]:
    """Turn whatever a malformed file makes the code inside raise into a one-line `CheckpointError` naming `path`
    (a `CheckpointError` passes unchanged)."""
    try:
        yield
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError, RuntimeError) as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise CheckpointError(f"{path} is not a readable {what}: {reason}") from None
    except MemoryError:
        raise CheckpointError(f"{path} is not a readable {what}: it claims more memory than there is") from None


def build_strict(
    factory: Callable[[], M], state: dict[str, Tensor], source: str | Path, *, derived: str | None = None
) -> M:
    """`factory()` loaded strictly from `state`, allocated only once its keys and shapes are known to match.

    The module is first built on the meta device (no memory), and that build stops as soon as it registers more
    parameters than `state` holds, so a config that claims a huge network costs neither memory nor time.
    Buffers whose name ends with `derived` are computed by the module and copied from it into `state`.
    """
    import torch
    from torch.nn.modules import module as torch_module

    count = [0]

    def _limit(*_: object) -> None:
        count[0] += 1
        if count[0] > len(state):
            raise CheckpointError(f"{source}: the stored config describes more tensors than the file holds")

    handle = torch_module.register_module_parameter_registration_hook(_limit)
    try:
        with torch.device("meta"):
            skeleton = factory()
    finally:
        handle.remove()
    own = {k: v for k, v in skeleton.state_dict().items() if derived is None or not k.endswith(derived)}
    _check_state(own, {k: v for k, v in state.items() if derived is None or not k.endswith(derived)}, source)
    module = factory()
    if derived is not None:
        state = {**state, **{k: v for k, v in module.state_dict().items() if k.endswith(derived)}}
    load_strict(module, state, source)
    return module


def _check_state(own: Mapping[str, Tensor], state: Mapping[str, Tensor], source: str | Path) -> None:
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshapen = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    problems = []
    if missing:
        problems.append(f"missing {_some(missing)}")
    if unexpected:
        problems.append(f"unexpected {_some(unexpected)}")
    if misshapen:
        k = misshapen[0]
        problems.append(f"shape mismatch for {k}: {list(state[k].shape)} vs {list(own[k].shape)}")
    if problems:
        raise CheckpointError(f"{source}: tensors do not match the architecture: {'; '.join(problems)}")


def npy_header(handle: IO[bytes], source: str | Path, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype a `.npy` stream declares, read without its data; a `CheckpointError` naming `source`
    and the array `name` for a version numpy's format module does not know."""
    import numpy as np

    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise CheckpointError(f"{source}: {name} has an unsupported .npy version {version}")
    return tuple(shape), dtype


def npy_fits(shape: tuple[int, ...], dtype: np.dtype[Any], available: int) -> bool:
    """Whether an array of `shape` and `dtype` can be held in `available` bytes: a header claiming more is a
    damaged or hostile file, refused before numpy allocates it."""
    return math.prod(shape) * dtype.itemsize <= available


def zip_member_capacity(info: zipfile.ZipInfo) -> int:
    """The most bytes an archive member can hold: its size when stored, ~1,100 times its compressed size when
    deflated (deflate's ratio cannot exceed about 1,032)."""
    return info.file_size if info.compress_type == zipfile.ZIP_STORED else 1100 * info.compress_size


def load_strict(module: nn.Module, state: Mapping[str, Tensor], source: str | Path) -> None:
    """`load_state_dict(strict=True)` in float32 with a one-line error naming missing/unexpected/misshapen keys."""
    import torch

    _check_state(module.state_dict(), state, source)
    module.load_state_dict(
        {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}, strict=True
    )


def _field_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _some(keys: list[str]) -> str:
    shown = ", ".join(keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


class JsonConfig:
    """Mixin for frozen config dataclasses: a JSON round trip (stored in file metadata).

    Tuples become lists and back; fields that are themselves `JsonConfig` dataclasses nest; unknown keys are
    refused with a one-line `ValueError`.
    """

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, JsonConfig):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            default = _field_default(fields[name])
            if isinstance(default, JsonConfig) and isinstance(value, Mapping):
                value = type(default).from_dict(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))
