"""The models shipped inside the package, addressed by name (`synthfaces-64`, `psp-synthfaces-64`) or by any path."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_NETWORK = "synthfaces-64"
BUNDLED_NETWORKS = {
    "synthfaces-64": "synthfaces-64.safetensors",
    "synthfaces-toon-64": "synthfaces-toon-64.safetensors",
}
ENCODER_ARCHS = ("psp", "e4e")
BUNDLED_ENCODERS = {
    "psp-synthfaces-64": "encoders/psp-synthfaces-64.safetensors",
    "e4e-synthfaces-64": "encoders/e4e-synthfaces-64.safetensors",
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


def resolve_encoder(spec: str | Path, network: str | Path | None = None) -> Path:
    """An encoder checkpoint path for `spec`: `psp` / `e4e` (the bundled encoder of that kind for the bundled
    `network`, None meaning the default model), a bundled encoder's name, or a file path."""
    name = str(spec)
    if name in ENCODER_ARCHS:
        network_name = DEFAULT_NETWORK if network is None else str(network)
        bundled = f"{name}-{network_name}"
        if bundled not in BUNDLED_ENCODERS:
            raise ValueError(
                f"no {name} encoder ships for the network {network_name}; pass an encoder checkpoint with --encoder "
                "(train one with `stylegan-edit train-encoder`)"
            )
        name = bundled
    if name in BUNDLED_ENCODERS:
        path = ASSETS / BUNDLED_ENCODERS[name]
        if not path.is_file():
            raise ValueError(
                f"the bundled encoder {name!r} is not in this installation yet; pass an encoder checkpoint with "
                "--encoder (train one with `stylegan-edit train-encoder`)"
            )
        return path
    path = Path(name)
    if not path.exists():
        known = ", ".join([*ENCODER_ARCHS, *BUNDLED_ENCODERS])
        raise ValueError(f"{path}: no such encoder file (bundled encoders: {known})")
    return path
