"""Network checkpoints: the native safetensors format, and detection of the foreign formats users hold.

Native file: one `.safetensors` holding `G_ema.*` (and optionally `D.*`) tensors under NVIDIA's names, with
`format`, `format_version` and the configs as JSON metadata. Loading is always strict.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from stylegan_edit.atomic import atomic_path
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

logger = logging.getLogger(__name__)

NETWORK_FORMAT = "stylegan-edit/network"
NETWORK_FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: the message names the file and what is wrong."""


@dataclass
class Network:
    """A generator (the EMA one, for inference) with its discriminator when the file has one."""

    generator: Generator
    discriminator: Discriminator | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def save_network(
    path: str | Path,
    generator: Generator,
    discriminator: Discriminator | None = None,
    *,
    metadata: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write a native network file atomically (`dtype=torch.float16` halves the size for shipping)."""
    from safetensors.torch import save_file

    tensors = {f"G_ema.{k}": v for k, v in generator.state_dict().items()}
    meta = {
        "format": NETWORK_FORMAT,
        "format_version": str(NETWORK_FORMAT_VERSION),
        "generator_config": generator.config.to_json(),
    }
    if discriminator is not None:
        tensors.update({f"D.{k}": v for k, v in discriminator.state_dict().items()})
        meta["discriminator_config"] = discriminator.config.to_json()
    meta.update(metadata or {})
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def sniff_format(path: str | Path) -> str:
    """Name a checkpoint's format from its first bytes: `native`, `nvidia-pkl`, `torch-zip` or `unknown`."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a checkpoint file") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from None
    if len(head) >= 9 and head[8:9] == b"{":
        return "native"
    if head[:1] == b"\x80":
        return "nvidia-pkl"
    if head[:2] == b"PK":
        return "torch-zip"
    return "unknown"


def load_network(path: str | Path, *, device: torch.device | str = "cpu") -> Network:
    """Load any supported checkpoint (native, NVIDIA `.pkl`, rosinality `.pt`), detected by content."""
    path = Path(path)
    kind = sniff_format(path)
    if kind == "native":
        network = _load_native(path)
    elif kind == "nvidia-pkl":
        from stylegan_edit.generators.nvidia_pickle import read_nvidia_pickle

        network = read_nvidia_pickle(path)
    elif kind == "torch-zip":
        from stylegan_edit.generators.rosinality import read_rosinality

        network = read_rosinality(path)
    else:
        raise CheckpointError(
            f"{path} is not a supported checkpoint (expected a stylegan-edit .safetensors, an NVIDIA .pkl "
            "or a rosinality .pt)"
        )
    network.generator.to(device).eval().requires_grad_(False)
    if network.discriminator is not None:
        network.discriminator.to(device).eval().requires_grad_(False)
    return network


def load_generator(path: str | Path, *, device: torch.device | str = "cpu") -> Generator:
    """The inference (EMA) generator of any supported checkpoint, in eval mode."""
    return load_network(path, device=device).generator


def read_safetensors(path: Path, *, unreadable: str) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors and the metadata of a safetensors file; `CheckpointError` `"{path} {unreadable} (why)"`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 (not a dict)
    except Exception as exc:  # safetensors raises SafetensorError, OSError or RuntimeError
        raise CheckpointError(f"{path} {unreadable} ({exc})") from None
    return tensors, meta


def _load_native(path: Path) -> Network:
    tensors, meta = read_safetensors(path, unreadable="is truncated or corrupt")
    if meta.get("format") != NETWORK_FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not a stylegan-edit network (format {meta.get('format')!r})"
        )
    version = int(meta.get("format_version", "0"))
    if version != NETWORK_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has network format version {version}; this stylegan-edit reads version "
            f"{NETWORK_FORMAT_VERSION} (convert it with the version that wrote it)"
        )
    try:
        g_config = GeneratorConfig.from_json(meta["generator_config"])
        d_config = (
            DiscriminatorConfig.from_json(meta["discriminator_config"]) if "discriminator_config" in meta else None
        )
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has an invalid config in its metadata: {exc}") from None
    generator = Generator(g_config)
    load_strict(generator, _strip(tensors, "G_ema."), path)
    discriminator = None
    if d_config is not None:
        discriminator = Discriminator(d_config)
        load_strict(discriminator, _strip(tensors, "D."), path)
    extra = {k: v for k, v in meta.items() if k not in ("generator_config", "discriminator_config")}
    return Network(generator, discriminator, extra)


def _strip(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_strict(module: nn.Module, state: dict[str, Tensor], source: str | Path) -> None:
    """`load_state_dict(strict=True)` in float32 with a one-line error naming missing/unexpected/misshapen keys."""
    own = module.state_dict()
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
    module.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)


def _some(keys: list[str]) -> str:
    shown = ", ".join(keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
