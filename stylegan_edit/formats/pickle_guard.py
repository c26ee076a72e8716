"""A scan of pickle streams run before anything is unpickled: it refuses nesting deeper than any checkpoint needs
(hashing a tuple nested 10^5 deep overflows the C stack) and lengths that claim more bytes than the file holds."""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from stylegan_edit.files import CheckpointError

MAX_DEPTH = 1000
_MUTATORS = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"}
_LEGACY_PICKLES = 5  # a pre-zip torch.save file: magic number, protocol, sys info, the object, storage keys


class _Bounded:
    """A read-only view of a stream that never asks for more than the stream holds (no huge read buffers)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        start = stream.tell()
        self.end = stream.seek(0, io.SEEK_END)
        stream.seek(start)

    def read(self, n: int = -1) -> bytes:
        left = self.end - self.stream.tell()
        return self.stream.read(left if n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self.stream.readline()

    def tell(self) -> int:
        return self.stream.tell()


def check_pickle(stream: IO[bytes], source: str | Path, *, pickles: int = 1) -> None:
    """Scan up to `pickles` consecutive pickles of `stream` (rewound afterwards); `CheckpointError` when one
    nests deeper than `MAX_DEPTH` or is malformed."""
    start = stream.tell()
    bounded = _Bounded(stream)
    try:
        for _ in range(pickles):
            if bounded.tell() >= bounded.end:
                break
            _scan(bounded, source)
    except CheckpointError:
        raise
    except Exception as exc:  # pickletools raises ValueError for bad opcodes and short data
        raise CheckpointError(f"{source} is truncated or corrupt ({str(exc).splitlines()[0][:200]})") from None
    finally:
        stream.seek(start)


def check_torch_file(stream: IO[bytes], source: str | Path) -> None:
    """Scan the pickles of a `torch.save` file: each `data.pkl` of a zip archive, or a legacy file's pickles."""
    start = stream.tell()
    head = stream.read(2)
    stream.seek(start)
    if head != b"PK":
        check_pickle(stream, source, pickles=_LEGACY_PICKLES)
        return
    try:
        with zipfile.ZipFile(stream) as archive:
            for info in archive.infolist():
                if info.filename.endswith("data.pkl"):
                    check_pickle(io.BytesIO(archive.read(info)), source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise CheckpointError(f"{source} is truncated or corrupt ({str(exc).splitlines()[0][:200]})") from None
    finally:
        stream.seek(start)


def _scan(stream: _Bounded, source: str | Path) -> None:
    stack: list[int] = []  # the nesting depth of each object on the unpickler's stack
    marks: list[int] = []
    memo: dict[object, int] = {}
    for op, arg, _ in pickletools.genops(stream):  # type: ignore[arg-type]  # it only reads
        name = op.name
        if name == "STOP":
            return
        if name == "MARK":
            marks.append(len(stack))
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1] if stack else 0
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo.get(arg, 0))
        elif name == "DUP":
            stack.append(stack[-1] if stack else 0)
        elif name == "POP":
            if marks and marks[-1] == len(stack):
                marks.pop()
            elif stack:
                stack.pop()
        elif name == "POP_MARK":
            del stack[marks.pop() if marks else 0 :]
        else:
            _apply(op, stack, marks, name in _MUTATORS, source)


def _apply(op: pickletools.OpcodeInfo, stack: list[int], marks: list[int], mutates: bool, source: str | Path) -> None:
    before = op.stack_before
    sliced: list[int] = []
    fixed_count = len(before)
    if pickletools.markobject in before:
        fixed_count = before.index(pickletools.markobject)
        at = marks.pop() if marks else 0
        sliced, stack[at:] = stack[at:], []
    fixed = stack[len(stack) - fixed_count :] if fixed_count else []
    del stack[len(stack) - len(fixed) :]
    if not op.stack_after:
        return
    if mutates and fixed:
        depth = max(fixed[0], 1 + max(fixed[1:] + sliced, default=0))
    else:
        depth = 1 + max(fixed + sliced, default=0)
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{source}: the pickle nests deeper than {MAX_DEPTH} levels; refusing it")
    stack.append(depth)


def load_torch_file(
    path: str | Path, *, holds: str, allowed: Sequence[type] = (), unreadable: str = "is truncated or corrupt"
) -> Any:
    """A `torch.save` file read weights-only (tensors, containers and the `allowed` classes) after the pickle
    scan, mapped to the CPU. Anything else raises a one-line `CheckpointError` naming the file: a refused global
    says what such files hold (`holds`), a broken file says `"{path} {unreadable} (why)"`."""
    import torch

    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        with handle, torch.serialization.safe_globals(list(allowed)):
            check_torch_file(handle, path)
            return torch.load(handle, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError... for unsafe or broken files
        found = re.search(r"GLOBAL ([\w.]+)", str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
        if found:
            raise CheckpointError(f"{path}: refusing to load global {found.group(1)} ({holds})") from None
        lines = str(exc).strip().splitlines()
        raise CheckpointError(f"{path} {unreadable} ({(lines[0] if lines else type(exc).__name__)[:200]})") from None
