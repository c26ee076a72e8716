"""The hand-off between steps: `project` / `encode` record the latents they wrote, `apply` edits them by default.

The record is `./.stylegan-edit/last-latents.json` in the working folder (so each project folder has its own),
holding the latents file's absolute path, the network that produced them, the command's name and, since version 2,
the generator tuned around the latents by `--tune` (PTI):
`{"format": "stylegan-edit/handoff", "format_version": 2, "latents": "/abs/out/projected.safetensors",
"network": "/abs/model.pkl" or null, "command": "project", "tuned_network": "/abs/out/tuned.safetensors" or null}`.
Version 1 records (no `tuned_network`) still read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from stylegan_edit.files import atomic_path

HANDOFF_FORMAT = "stylegan-edit/handoff"
HANDOFF_FORMAT_VERSION = 2
HANDOFF_PATH = Path(".stylegan-edit") / "last-latents.json"


@dataclass(frozen=True)
class Handoff:
    """The latents file the last `project` / `encode` wrote, the network (path or bundled name) it used, and the
    generator tuned around the latents (an absolute path; None: not tuned)."""

    latents_path: Path
    network: str | None
    command: str
    tuned_network: Path | None = None


def record_latents(
    latents_path: str | Path,
    *,
    command: str,
    network: str | Path | None = None,
    tuned_network: str | Path | None = None,
    root: str | Path | None = None,
) -> Path:
    """Record `latents_path` as the latest latents (atomically); returns the record's path.

    network: the checkpoint path or bundled name the latents belong to (paths are stored absolute).
    tuned_network: the generator file tuned around the latents (stored absolute), which `apply` then renders with.
    root: the working folder holding `.stylegan-edit/` (default: the current folder).
    """
    record = _record_path(root)
    network_text = None
    if network is not None:
        network_text = str(Path(network).resolve()) if Path(network).exists() else str(network)
    document = {
        "format": HANDOFF_FORMAT,
        "format_version": HANDOFF_FORMAT_VERSION,
        "latents": str(Path(latents_path).resolve()),
        "network": network_text,
        "command": command,
        "tuned_network": str(Path(tuned_network).resolve()) if tuned_network is not None else None,
    }
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps(document, indent=2))
    return record


def find_last_latents(root: str | Path | None = None) -> Handoff:
    """The latents recorded by the last `project` / `encode` run in `root` (default: the current folder).

    Raises a one-line `ValueError` when there is no record, it is unreadable or newer than this version, or its
    latents file (or tuned generator) is gone.
    """
    record = _record_path(root)
    if not record.is_file():
        raise ValueError(
            f"no latents from a previous `project` or `encode` here ({HANDOFF_PATH} not found); pass --latents FILE"
        )
    try:
        document = json.loads(record.read_text())
        if document.get("format") != HANDOFF_FORMAT:
            raise ValueError
        version = int(document.get("format_version", 1))
        tuned = document.get("tuned_network")
        handoff = Handoff(
            Path(document["latents"]),
            document.get("network"),
            str(document.get("command", "?")),
            Path(tuned) if tuned is not None else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{record} is not a readable hand-off record; pass --latents FILE") from None
    if version > HANDOFF_FORMAT_VERSION:
        raise ValueError(
            f"{record} has hand-off format version {version}, newer than this stylegan-edit reads "
            f"({HANDOFF_FORMAT_VERSION}); pass --latents FILE"
        )
    if not handoff.latents_path.is_file():
        raise ValueError(
            f"the last `{handoff.command}` wrote {handoff.latents_path}, which no longer exists; pass --latents FILE"
        )
    if handoff.tuned_network is not None and not handoff.tuned_network.is_file():
        raise ValueError(
            f"the last `{handoff.command}` tuned its generator into {handoff.tuned_network}, which no longer exists; "
            "pass --latents FILE and --network"
        )
    return handoff


def _record_path(root: str | Path | None) -> Path:
    return (Path(root) if root is not None else Path.cwd()) / HANDOFF_PATH
