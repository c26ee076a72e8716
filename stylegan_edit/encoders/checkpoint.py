"""Encoder files: one `.safetensors` with the state dict, and `format`, `format_version`, the config and the
generator's fingerprint as JSON metadata. Loading is always strict; `load_encoder` also resolves bundled names and
reads the official pSp / e4e / ReStyle `.pt` checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from stylegan_edit.encoders.config import EncoderConfig
from stylegan_edit.encoders.encoder import StyleEncoder, build_encoder
from stylegan_edit.files import (
    CheckpointError,
    build_strict,
    check_format,
    malformed,
    read_safetensors,
    write_safetensors,
)
from stylegan_edit.formats.native import NETWORK_FORMAT, sniff_format

if TYPE_CHECKING:
    from stylegan_edit.encoders.official import OfficialEncoder

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
    write_safetensors(path, encoder.state_dict(), meta, dtype=dtype)


def read_encoder(path: str | Path, *, device: torch.device | str = "cpu") -> StyleEncoder:
    """Load an encoder file (float32, eval mode, no gradients); its extra metadata lands in `encoder.metadata`."""
    tensors, meta = _read(path)
    try:
        config = EncoderConfig.from_json(meta["encoder_config"])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} has an invalid encoder config in its metadata: {exc}") from None
    with malformed(path, "stylegan-edit encoder"):
        encoder = build_strict(lambda: build_encoder(config), tensors, path)
    encoder.generator_fingerprint = meta.get("generator_fingerprint", "")
    encoder.metadata = {k: v for k, v in meta.items() if k not in RESERVED_KEYS}
    return encoder.to(device).eval().requires_grad_(False)


def _read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    found, meta = read_safetensors(path, what="stylegan-edit encoder")
    if meta.get("format") == NETWORK_FORMAT:
        raise CheckpointError(f"{path} is a generator checkpoint, not an encoder (pass it with --network)")
    check_format(path, meta, format=ENCODER_FORMAT, version=ENCODER_FORMAT_VERSION, what="stylegan-edit encoder")
    return found, meta


def load_encoder(
    spec: str | Path, *, network: str | Path | None = None, device: torch.device | str = "cpu"
) -> StyleEncoder | OfficialEncoder:
    """An encoder by `spec`: `psp` / `e4e` (bundled for the bundled `network`, default model when None), a
    bundled encoder's name (`psp-synthfaces-64`), or a path: a stylegan-edit `.safetensors`, or an official pSp /
    e4e / ReStyle `.pt` checkpoint (read weights-only). Raises `ValueError` with one line otherwise."""
    from stylegan_edit.assets import resolve_encoder

    path = resolve_encoder(spec, network)
    if sniff_format(path) in ("torch-zip", "nvidia-pkl"):
        from stylegan_edit.encoders.official import read_official_encoder

        encoder: OfficialEncoder = read_official_encoder(path, device=device)
        return encoder
    return read_encoder(path, device=device)
