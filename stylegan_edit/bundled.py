"""The models shipped inside the package, addressed by name (`synthfaces-64`) or by any checkpoint path."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_NETWORK = "synthfaces-64"
BUNDLED_NETWORKS = {
    "synthfaces-64": "synthfaces-64.safetensors",
    "synthfaces-toon-64": "synthfaces-toon-64.safetensors",
}


def resolve_network(spec: str | Path | None) -> Path:
    """A checkpoint path for `spec`: a bundled model's name, a file path, or None for the default model."""
    name = DEFAULT_NETWORK if spec is None else str(spec)
    if name in BUNDLED_NETWORKS:
        path = ASSETS / BUNDLED_NETWORKS[name]
        if not path.is_file():
            raise ValueError(
                f"the bundled model {name!r} is not in this installation yet; pass a checkpoint with --network"
            )
        return path
    path = Path(name)
    if not path.exists():
        known = ", ".join(BUNDLED_NETWORKS)
        raise ValueError(f"{path}: no such checkpoint file (bundled models: {known})")
    return path
