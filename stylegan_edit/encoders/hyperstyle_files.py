"""HyperStyle files: one `.safetensors` holding the hypernetwork (`hypernet.*`) and its W encoder (`w_encoder.*`),
with `format`, `format_version`, both configs and the generator's fingerprint as JSON metadata. The generator is
not stored: reading takes it and refuses another one. Loading is always strict."""

from __future__ import annotations

from pathlib import Path

import torch

from stylegan_edit.encoders.config import EncoderConfig, generator_fingerprint
from stylegan_edit.encoders.encoder import build_encoder
from stylegan_edit.encoders.hyperstyle import HyperNetwork, HyperStyle
from stylegan_edit.encoders.hyperstyle_config import HyperStyleConfig
from stylegan_edit.files import CheckpointError, build_strict, malformed, read_safetensors, write_safetensors
from stylegan_edit.generators import AnyGenerator, Generator

HYPERSTYLE_FORMAT = "stylegan-edit/hyperstyle"
HYPERSTYLE_FORMAT_VERSION = 1
RESERVED_KEYS = ("format", "format_version", "hyperstyle_config", "w_encoder_config", "generator_fingerprint")
WHAT = "stylegan-edit HyperStyle file"
PREFIXES = ("hypernet.", "w_encoder.")


def save_hyperstyle(
    path: str | Path,
    hyperstyle: HyperStyle,
    *,
    metadata: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write the hypernetwork and the W encoder atomically (`dtype=torch.float16` halves the size for bundling).

    metadata: extra strings to keep (training data, steps, the network's name); reserved keys are refused.
    """
    clash = sorted(set(metadata or {}) & set(RESERVED_KEYS))
    if clash:
        raise ValueError(f"metadata keys {', '.join(clash)} are reserved")
    tensors = {f"hypernet.{k}": v for k, v in hyperstyle.hypernet.state_dict().items()}
    tensors |= {f"w_encoder.{k}": v for k, v in hyperstyle.w_encoder.state_dict().items()}
    meta = {
        "format": HYPERSTYLE_FORMAT,
        "format_version": str(HYPERSTYLE_FORMAT_VERSION),
        "hyperstyle_config": hyperstyle.config.to_json(),
        "w_encoder_config": hyperstyle.w_encoder.config.to_json(),
        "generator_fingerprint": hyperstyle.generator_fingerprint,
        **(metadata or {}),
    }
    write_safetensors(path, tensors, meta, dtype=dtype)


def is_hyperstyle_file(path: str | Path) -> bool:
    """Whether `path` is one of our HyperStyle files (read from its header alone)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("format") == HYPERSTYLE_FORMAT
    except Exception:  # not a safetensors file at all; the real reader says why
        return False


def read_hyperstyle(path: str | Path, generator: AnyGenerator) -> HyperStyle:
    """A HyperStyle file for `generator` (float32, eval mode, no gradients, on the generator's device); its extra
    metadata lands in `metadata`. A one-line `CheckpointError` for another format or generator, or bad tensors."""
    tensors, meta = read_safetensors(path, what=WHAT, format=HYPERSTYLE_FORMAT, version=HYPERSTYLE_FORMAT_VERSION)
    try:
        config = HyperStyleConfig.from_json(meta["hyperstyle_config"])
        encoder_config = EncoderConfig.from_json(meta["w_encoder_config"])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} has an invalid HyperStyle config in its metadata: {exc}") from None
    if not isinstance(generator, Generator) or meta.get("generator_fingerprint") != generator_fingerprint(generator):
        raise CheckpointError(
            f"{path} was trained for another generator (fingerprint {meta.get('generator_fingerprint')}); pass the "
            "network it was trained with"
        )
    parts = {prefix: {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)} for prefix in PREFIXES}
    stray = sorted(k for k in tensors if not k.startswith(PREFIXES))
    if stray:
        raise CheckpointError(f"{path}: unexpected tensors {', '.join(stray[:3])}")
    with malformed(path, WHAT):
        hypernet = build_strict(lambda: HyperNetwork(config), parts["hypernet."], path)
        w_encoder = build_strict(lambda: build_encoder(encoder_config), parts["w_encoder."], path)
        w_encoder.generator_fingerprint = meta["generator_fingerprint"]
        hyperstyle = HyperStyle(hypernet, w_encoder, generator)
    hyperstyle.metadata = {k: v for k, v in meta.items() if k not in RESERVED_KEYS}
    return hyperstyle.to(generator.device).eval().requires_grad_(False)
