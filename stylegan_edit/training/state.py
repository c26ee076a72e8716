"""Resumable training state: `state.pt` plus the previous good `state-prev.pt` in the run folder.

Files hold plain tensors, numbers, strings, lists and dicts only (`torch.load(weights_only=True)` reads them, and
nothing in them runs code). A new state is written whole to a temporary file before it takes the name `state.pt`,
and both names always hold a whole state, so a run killed at any moment (even SIGKILL) resumes from a good one.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylegan_edit.files import atomic_path

STATE_FORMAT = "stylegan-edit/training-state"
STATE_FORMAT_VERSION = 1
STATE_FILE = "state.pt"
PREVIOUS_STATE_FILE = "state-prev.pt"
REQUIRED_KEYS = ("options", "G", "G_ema", "D", "G_opt", "D_opt", "pl_mean", "step", "cur_nimg", "rng")
# `files.atomic_path`'s temporary files: `.{name}.{8 random characters}{suffix}`.


@dataclass
class LoadedState:
    """A training state read from a run folder, the file it came from, and what went wrong on the way."""

    state: dict[str, Any]
    path: Path
    notes: list[str] = field(default_factory=list)


def save_state(run_dir: str | Path, state: dict[str, Any], *, state_format: str = STATE_FORMAT) -> Path:
    """Write `state` as `run_dir/state.pt`, keeping the file it replaces as `state-prev.pt`.

    state_format: the kind of run (the GAN trainer's by default; the encoder trainer passes its own).
    """
    run_dir = Path(run_dir)
    path = run_dir / STATE_FILE
    document = {"format": state_format, "format_version": STATE_FORMAT_VERSION, **state}
    with atomic_path(path) as tmp:
        torch.save(document, tmp)
        if path.exists():
            _keep_as_previous(path, run_dir / PREVIOUS_STATE_FILE)
    return path


def _keep_as_previous(path: Path, previous: Path) -> None:
    """Give `previous` the contents of `path` while `path` stays in place (no moment without a `state.pt`)."""
    with atomic_path(previous) as tmp:
        tmp.unlink()
        try:
            os.link(path, tmp)
        except OSError:  # a file system without hard links
            shutil.copyfile(path, tmp)


def read_state(
    path: Path, *, state_format: str = STATE_FORMAT, required: Sequence[str] = REQUIRED_KEYS
) -> dict[str, Any]:
    """Read and check one state file; `ValueError` with one line for a missing, corrupt or foreign file."""
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except Exception as exc:  # truncated zips raise RuntimeError, foreign pickles UnpicklingError, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path} is truncated or corrupt ({reason})") from None
    found = document.get("format") if isinstance(document, dict) else None
    if found != state_format:
        if isinstance(found, str) and found.startswith("stylegan-edit/"):
            raise ValueError(f"{path} is a {found} file, not a {state_format} one")
        raise ValueError(f"{path} is not a stylegan-edit training state")
    if document.get("format_version") != STATE_FORMAT_VERSION:
        raise ValueError(
            f"{path} has training-state version {document.get('format_version')}; this stylegan-edit reads "
            f"version {STATE_FORMAT_VERSION}"
        )
    missing = [k for k in required if k not in document]
    if missing:
        raise ValueError(f"{path} is incomplete (missing {', '.join(missing)})")
    return document


def load_state(
    run_dir: str | Path, *, state_format: str = STATE_FORMAT, required: Sequence[str] = REQUIRED_KEYS
) -> LoadedState:
    """The latest good state of a run: `state.pt`, or `state-prev.pt` when the latest is missing or corrupt.

    A fallback is reported in `notes` (one line each) for the caller to show. `state_format` and `required` name
    the kind of run and the entries its states must hold (the GAN trainer's by default).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder")
    latest, previous = run_dir / STATE_FILE, run_dir / PREVIOUS_STATE_FILE
    if not latest.exists() and not previous.exists():
        raise ValueError(f"{run_dir} holds no training state ({STATE_FILE}); nothing to resume")
    try:
        return LoadedState(read_state(latest, state_format=state_format, required=required), latest)
    except ValueError as exc:
        problem = str(exc)
    if not previous.exists():
        raise ValueError(f"{problem}, and there is no {PREVIOUS_STATE_FILE} to fall back to")
    try:
        state = read_state(previous, state_format=state_format, required=required)
    except ValueError as exc:
        raise ValueError(f"{problem}; the fallback is unusable too: {exc}") from None
    return LoadedState(state, previous, [f"{problem}; resuming from the previous state {previous.name} instead"])


def check_resumed_options(saved: Any, current: Any, changeable: Sequence[str]) -> None:
    """Raise unless the options dataclasses `saved` (from a state) and `current` agree on every field but the
    `changeable` (scheduling) ones; the error names the fields that differ."""
    if saved.replace(**{name: getattr(current, name) for name in changeable}) != current:
        changed = [k for k, v in saved.to_dict().items() if v != current.to_dict()[k]]
        raise ValueError(f"the saved training state uses different options ({', '.join(changed)})")


class ResumeError(ValueError):
    """Inputs a resumed run cannot change; `names` lists them (option fields or workflow arguments), sorted."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sorted(names))
        super().__init__(
            f"{', '.join(self.names)} cannot change when resuming: the run keeps the options it started with"
        )


def check_resume_changes(names: Iterable[str], changeable: Iterable[str]) -> None:
    """Raise `ResumeError` naming every one of `names` (options a resumed run is asked to change) outside the
    `changeable` (scheduling) ones."""
    fixed = set(names) - set(changeable)
    if fixed:
        raise ResumeError(fixed)


def capture_rng() -> dict[str, Any]:
    """The global torch, CUDA, numpy and Python RNG states, as plain tensors and numbers."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    version, internal, gauss = random.getstate()
    rng: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(rng: dict[str, Any]) -> None:
    """Undo `capture_rng`."""
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(rng["cuda"])
    state = rng["numpy"]
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["kind"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"]))
    python = rng["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss"]))
