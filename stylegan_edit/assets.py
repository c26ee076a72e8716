"""The registry of bundled assets: every model, encoder, direction and classifier shipped inside the package, by
name. `resolve(kind, spec)` turns a bundled name or a path into a file; every `load_*` goes through it."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from stylegan_edit.files import CheckpointError

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_NETWORK = "synthfaces-64"
ENCODER_ARCHS = ("psp", "e4e")

Kind = Literal["network", "encoder", "direction", "classifier"]

_FILES: dict[Kind, dict[str, str]] = {
    "network": {
        "synthfaces-64": "synthfaces-64.safetensors",
        "synthfaces-toon-64": "synthfaces-toon-64.safetensors",
    },
    "encoder": {
        "psp-synthfaces-64": "encoders/psp-synthfaces-64.safetensors",
        "e4e-synthfaces-64": "encoders/e4e-synthfaces-64.safetensors",
    },
    "classifier": {"synthfaces-attributes": "attribute-classifier.safetensors"},
}
_FOLDERS: dict[Kind, str] = {"direction": "directions"}
_WHAT: dict[Kind, str] = {
    "network": "checkpoint file",
    "encoder": "encoder file",
    "direction": "direction file",
    "classifier": "classifier file",
}
_HINTS: dict[Kind, str] = {
    "network": "pass a checkpoint with --network",
    "encoder": "pass an encoder checkpoint with --encoder (train one with `stylegan-edit train-encoder`)",
    "direction": "pass a direction file (fit one with `stylegan-edit directions fit`)",
    "classifier": "pass a classifier file (train one with `stylegan-edit train-classifier`)",
}


def bundled(kind: Kind) -> dict[str, Path]:
    """The bundled assets of one kind, by name (files listed for a kind that this installation lacks included)."""
    if kind in _FOLDERS:
        folder = ASSETS / _FOLDERS[kind]
        return {p.stem: p for p in sorted(folder.glob("*.safetensors"))} if folder.is_dir() else {}
    return {name: ASSETS / file for name, file in _FILES[kind].items()}


def resolve(kind: Kind, spec: str | Path, *, search_dirs: Sequence[str | Path] = ()) -> Path:
    """A file for `spec`: an existing path, a bundled name of `kind`, or a name `<spec>.safetensors` in one of
    `search_dirs` (bundled names first). A one-line `ValueError` otherwise."""
    name = str(spec)
    known = bundled(kind)
    if name in known:
        if not known[name].is_file():
            raise CheckpointError(f"the bundled {kind} {name!r} is not in this installation; {_HINTS[kind]}")
        return known[name]
    path = Path(spec)
    if path.is_file():
        return path
    for folder in search_dirs:
        if Path(folder).is_dir():
            for file in sorted(Path(folder).glob("*.safetensors")):
                known.setdefault(file.stem, file)
    if len(path.parts) == 1 and name in known:
        return known[name]
    if path.exists():
        raise CheckpointError(f"{path} is a folder, not a {_WHAT[kind]}")
    names = ", ".join(known) or "none"
    if path.suffix or len(path.parts) > 1:
        raise CheckpointError(f"{path}: no such {_WHAT[kind]} (known: {names})")
    raise CheckpointError(f"unknown {kind} {name!r} (known: {names}); or {_HINTS[kind]}")


def resolve_network(spec: str | Path | None) -> Path:
    """A checkpoint path for `spec`: a bundled model's name, a file path, or None for the default model."""
    return resolve("network", DEFAULT_NETWORK if spec is None else spec)


def resolve_encoder(spec: str | Path, network: str | Path | None = None) -> Path:
    """An encoder file for `spec`: `psp` / `e4e` (the bundled encoder of that kind for the bundled `network`, None
    meaning the default model), a bundled encoder's name, or a file path."""
    name = str(spec)
    if name in ENCODER_ARCHS:
        network_name = DEFAULT_NETWORK if network is None else str(network)
        if f"{name}-{network_name}" not in bundled("encoder"):
            raise CheckpointError(f"no {name} encoder ships for the network {network_name}; {_HINTS['encoder']}")
        name = f"{name}-{network_name}"
    return resolve("encoder", name)


def dlib_model_path(name: str, *, needed_for: str) -> Path:
    """A model file (`shape_predictor_68_face_landmarks.dat`, `dlib_face_recognition_resnet_model_v1.dat`) of the
    installed `face_recognition_models` package, found without importing it (its `__init__` imports
    `pkg_resources`, which current setuptools no longer provides); a one-line `ValueError` naming it otherwise."""
    spec = importlib.util.find_spec("face_recognition_models")
    for location in list(spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / "models" / name
        if path.is_file():
            return path
    raise ValueError(
        f"{needed_for} needs {name} from the face_recognition_models package (pip install face_recognition_models)"
    )
