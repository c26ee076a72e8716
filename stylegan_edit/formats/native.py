"""Network checkpoints: the native safetensors format, and detection of the foreign formats users hold.

Native file: one `.safetensors` holding `G_ema.*` (and optionally `D.*`) tensors under NVIDIA's names, with
`format`, `format_version`, the configs as JSON metadata and, for StyleGAN3, `generator_class`. Loading is always
strict.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor

from stylegan_edit.assets import resolve_network
from stylegan_edit.files import CheckpointError, build_strict, malformed, read_safetensors, write_safetensors
from stylegan_edit.formats.sg3_schedule import check_filter_lengths
from stylegan_edit.generators import (
    AnyGenerator,
    Discriminator,
    DiscriminatorConfig,
    Network,
    StyleGAN3Config,
    build_generator,
    config_from_json,
    generator_class,
)

logger = logging.getLogger(__name__)

NETWORK_FORMAT = "stylegan-edit/network"
NETWORK_FORMAT_VERSION = 1


def save_network(
    path: str | Path,
    generator: AnyGenerator,
    discriminator: Discriminator | None = None,
    *,
    metadata: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write a native network file atomically (`dtype=torch.float16` halves the size for shipping). A StyleGAN3
    generator's file says so in `generator_class` (absent: StyleGAN2)."""
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
    # Set last, so that metadata copied from another file cannot claim the wrong family.
    meta.pop("generator_class", None)
    if generator_class(generator.config) != "stylegan2":
        meta["generator_class"] = generator_class(generator.config)
    write_safetensors(path, tensors, meta, dtype=dtype)


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


def load_network(spec: str | Path | None = None, *, device: torch.device | str = "cpu") -> Network:
    """Load a bundled model by name (`synthfaces-64`; None: the default model) or any supported checkpoint file
    (native `.safetensors`, NVIDIA `.pkl`, rosinality `.pt`, detected by content)."""
    path = resolve_network(spec)
    kind = sniff_format(path)
    if kind == "native":
        network = _load_native(path)
    elif kind == "nvidia-pkl":
        from stylegan_edit.formats.nvidia_pickle import read_nvidia_pickle

        network = read_nvidia_pickle(path)
    elif kind == "torch-zip":
        from stylegan_edit.formats.rosinality import read_rosinality

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


def load_generator(spec: str | Path | None = None, *, device: torch.device | str = "cpu") -> AnyGenerator:
    """The inference (EMA) generator (StyleGAN2 or StyleGAN3) of a bundled model or any supported checkpoint (see
    `load_network`), in eval mode without gradients."""
    return load_network(spec, device=device).generator


def _load_native(path: Path) -> Network:
    tensors, meta = read_safetensors(
        path, what="stylegan-edit network", format=NETWORK_FORMAT, version=NETWORK_FORMAT_VERSION
    )
    try:
        g_config = config_from_json(meta["generator_config"], meta.get("generator_class"))
        d_config = (
            DiscriminatorConfig.from_json(meta["discriminator_config"]) if "discriminator_config" in meta else None
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} has an invalid config in its metadata: {exc}") from None
    mapping_tensors = sum(1 for k in tensors if k.startswith("G_ema.mapping.fc"))
    if g_config.mapping_layers > mapping_tensors:  # before building: the list of layers alone could be huge
        raise CheckpointError(
            f"{path}: the config has {g_config.mapping_layers} mapping layers, the file tensors for at most "
            f"{mapping_tensors}"
        )
    with malformed(path, "stylegan-edit network"):
        if isinstance(g_config, StyleGAN3Config):
            _check_stylegan3_size(g_config, tensors, path)
        generator = build_strict(lambda: build_generator(g_config), _strip(tensors, "G_ema."), path)
        discriminator = None
        if d_config is not None:
            discriminator = build_strict(lambda: Discriminator(d_config), _strip(tensors, "D."), path)
    extra = {k: v for k, v in meta.items() if k not in ("generator_config", "discriminator_config", "generator_class")}
    return Network(generator, discriminator, extra)


def _check_stylegan3_size(config: StyleGAN3Config, tensors: dict[str, Tensor], path: Path) -> None:
    """Refuse a StyleGAN3 config that claims more layers, or longer filters, than the file's tensors hold, before
    anything is computed from it."""
    stored = {key.split(".")[2] for key in tensors if key.startswith("G_ema.synthesis.L")}
    if config.num_layers + 1 > len(stored):
        raise CheckpointError(
            f"{path}: the config has {config.num_layers + 1} synthesis layers, the file tensors for {len(stored)}"
        )
    check_filter_lengths(config, tensors, path, prefix="G_ema.")


def _strip(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
