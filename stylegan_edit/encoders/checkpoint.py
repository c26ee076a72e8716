"""Encoder files: one `.safetensors` with the state dict, and `format`, `format_version`, the config and the
generator's fingerprint as JSON metadata. Loading is always strict; `load_encoder` also resolves bundled names."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from stylegan_edit.atomic import atomic_path
from stylegan_edit.checkpoints import NETWORK_FORMAT, CheckpointError, load_strict, sniff_format
from stylegan_edit.encoders.config import EncoderConfig
from stylegan_edit.encoders.encoder import StyleEncoder, build_encoder

ENCODER_FORMAT = "stylegan-edit/encoder"
ENCODER_FORMAT_VERSION = 1
RESERVED_KEYS = ("format", "format_version", "encoder_config", "generator_fingerprint")


def save_encoder(
    path: str | Path,
    encoder: StyleEncoder,
    *,
    metadata: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write an encoder file atomically (`dtype=torch.float16` halves the size for shipping).

    metadata: extra strings to keep (training data, steps, the network's name); reserved keys are refused.
    """
    from safetensors.torch import save_file

    clash = sorted(set(metadata or {}) & set(RESERVED_KEYS))
    if clash:
        raise ValueError(f"metadata keys {', '.join(clash)} are reserved")
    meta = {
        "format": ENCODER_FORMAT,
        "format_version": str(ENCODER_FORMAT_VERSION),
        "encoder_config": encoder.config.to_json(),
        "generator_fingerprint": encoder.generator_fingerprint,
        **(metadata or {}),
    }
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in encoder.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def read_encoder_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of an encoder file (checked to be one), without reading its tensors."""
    from safetensors import safe_open

    path = Path(path)
    if sniff_format(path) != "native":
        raise CheckpointError(f"{path} is not a stylegan-edit encoder file (expected a .safetensors encoder)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
    except Exception as exc:  # safetensors raises SafetensorError, OSError or RuntimeError
        raise CheckpointError(f"{path} is truncated or corrupt ({exc})") from None
    kind = meta.get("format")
    if kind == NETWORK_FORMAT:
        raise CheckpointError(f"{path} is a generator checkpoint, not an encoder (pass it with --network)")
    if kind != ENCODER_FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a stylegan-edit encoder (format {kind!r})")
    version = int(meta.get("format_version", "0"))
    if version != ENCODER_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has encoder format version {version}; this stylegan-edit reads version {ENCODER_FORMAT_VERSION}"
        )
    return meta


def read_encoder(path: str | Path, *, device: torch.device | str = "cpu") -> StyleEncoder:
    """Load an encoder file (float32, eval mode, no gradients); its extra metadata lands in `encoder.metadata`."""
    from safetensors import safe_open

    path = Path(path)
    meta = read_encoder_metadata(path)
    try:
        config = EncoderConfig.from_json(meta["encoder_config"])
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has an invalid encoder config in its metadata: {exc}") from None
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 (not a dict)
    except Exception as exc:
        raise CheckpointError(f"{path} is truncated or corrupt ({exc})") from None
    encoder = build_encoder(config)
    load_strict(encoder, tensors, path)
    encoder.generator_fingerprint = meta.get("generator_fingerprint", "")
    encoder.metadata = {k: v for k, v in meta.items() if k not in RESERVED_KEYS}
    return encoder.to(device).eval().requires_grad_(False)


def load_encoder(
    spec: str | Path, *, network: str | Path | None = None, device: torch.device | str = "cpu"
) -> StyleEncoder:
    """An encoder by `spec`: `psp` / `e4e` (bundled for the bundled `network`, default model when None), a
    bundled encoder's name (`psp-synthfaces-64`), or a path. Raises `ValueError` with one line otherwise."""
    from stylegan_edit.bundled import resolve_encoder

    return read_encoder(resolve_encoder(spec, network), device=device)
