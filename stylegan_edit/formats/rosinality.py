"""Read and write rosinality/stylegan2-pytorch checkpoints (`.pt`) through an explicit key map (docs/formats.md).

rosinality's modules hold the same tensors as NVIDIA's, some with an extra leading dimension; the blur and
upsample kernels are derived, not learned. rosinality's generator has no `conv_clamp` and a fixed channel
schedule (512 up to 32 px, then `16384 * channel_multiplier / r`), so only such networks can be written.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stylegan_edit.files import CheckpointError, atomic_path, load_strict, malformed
from stylegan_edit.formats.foreign import fir_taps, infer_channel_schedule
from stylegan_edit.formats.pickle_guard import load_torch_file
from stylegan_edit.formats.rosinality_keys import (
    discriminator_kernels,
    discriminator_key_map,
    generator_kernels,
    generator_key_map,
    rosinality_channels,
)
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Network
from stylegan_edit.generators.ops import setup_filter

logger = logging.getLogger(__name__)

W_AVG_SAMPLES = 4096
W_AVG_SEED = 0


def load_torch_checkpoint(path: str | Path, *, what: str = "rosinality checkpoints") -> Any:
    """A `torch.save` file read weights-only after the pickle scan (`argparse.Namespace` is the one class allowed
    beyond tensors and containers); anything else raises a one-line `CheckpointError` naming the file."""
    return load_torch_file(
        path, holds=f"{what} hold only tensors, optimizer states and argparse.Namespace", allowed=[argparse.Namespace]
    )


def _check_rosinality(checkpoint: Any, path: Path) -> dict[str, Any]:
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("g_ema"), dict):
        keys = (
            ", ".join(sorted(map(str, checkpoint))[:8]) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        )
        raise CheckpointError(f"{path} is not a rosinality stylegan2 checkpoint (no g_ema state dict; found {keys})")
    return checkpoint


def _count(state: dict[str, Tensor], pattern: str) -> int:
    return sum(1 for k in state if re.fullmatch(pattern, k))


def _strict_rename(
    state: dict[str, Tensor],
    pairs: list[tuple[str, str]],
    derived: list[str],
    shapes: dict[str, torch.Size],
    source: str,
) -> dict[str, Tensor]:
    """rosinality -> NVIDIA names; every rosinality key must be mapped or derived, every NVIDIA key present."""
    expected = {ros for _, ros in pairs} | set(derived)
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: keys do not match rosinality's StyleGAN2 layout "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    out = {}
    for nv, ros in pairs:
        if state[ros].numel() != math.prod(shapes[nv]):
            raise CheckpointError(f"{source}: {ros} has shape {list(state[ros].shape)}, expected {list(shapes[nv])}")
        out[nv] = state[ros].reshape(shapes[nv])
    return out


def _check_kernels(state: dict[str, Tensor], names: list[str], taps: tuple[int, ...], source: str) -> None:
    for name in names:
        if fir_taps(state[name], source) != taps:
            raise CheckpointError(f"{source}: {name} differs from the other blur kernels; not supported")


def read_generator(checkpoint: dict[str, Any], source: str) -> tuple[Generator, str]:
    """The generator of a checkpoint dict `{g_ema, [args], [latent_avg]}` and a note when w_avg was computed."""
    state, args = checkpoint["g_ema"], checkpoint.get("args")
    arch = getattr(args, "arch", "stylegan2")
    if arch != "stylegan2":
        raise CheckpointError(f"{source}: rosinality {arch!r} checkpoints are not supported (stylegan2 only)")
    if "style.1.weight" not in state or "input.input" not in state:
        raise CheckpointError(f"{source}: g_ema is not a rosinality StyleGAN2 generator (no style.1 / input.input)")
    img_resolution = 2 ** (_count(state, r"to_rgbs\.\d+\.conv\.weight") + 2)
    channels = {4: int(state["input.input"].shape[1])}
    channels.update(
        {
            2 ** (j + 3): int(state[f"convs.{2 * j}.conv.weight"].shape[1])
            for j in range(int(math.log2(img_resolution)) - 2)
        }
    )
    multiplier = int(getattr(args, "channel_multiplier", 2))
    hints = [(16384 * multiplier, 512), (32768, 512), (16384, 512)]
    channel_base, channel_max = infer_channel_schedule(channels, hints, source)
    kernels = generator_kernels(img_resolution)
    taps = fir_taps(state[kernels[0]], source) if kernels else (1, 3, 3, 1)
    config = GeneratorConfig(
        img_resolution=img_resolution,
        z_dim=int(state["style.1.weight"].shape[1]),
        w_dim=int(state["style.1.weight"].shape[0]),
        mapping_layers=_count(state, r"style\.\d+\.weight"),
        channel_base=channel_base,
        channel_max=channel_max,
        resample_filter=taps,
    )
    for name, value in (("size", config.img_resolution), ("latent", config.w_dim), ("n_mlp", config.mapping_layers)):
        if args is not None and getattr(args, name, value) != value:
            raise CheckpointError(f"{source}: args.{name}={getattr(args, name)} but the weights say {value}")
    _check_kernels(state, kernels, taps, source)
    generator = Generator(config).eval().requires_grad_(False)
    own = generator.state_dict()
    tensors = _strict_rename(
        state,
        generator_key_map(img_resolution, config.mapping_layers),
        kernels,
        {k: v.shape for k, v in own.items()},
        source,
    )
    tensors.update({k: v for k, v in own.items() if k.endswith("resample_filter")})
    note = ""
    if isinstance(checkpoint.get("latent_avg"), Tensor):
        tensors["mapping.w_avg"] = checkpoint["latent_avg"].reshape(-1)
    else:
        tensors["mapping.w_avg"] = own["mapping.w_avg"]
        note = (
            f"w_avg computed as the mean of mapping(z) over {W_AVG_SAMPLES} z ~ N(0, I) (seed {W_AVG_SEED}); "
            "the checkpoint has no latent_avg"
        )
    load_strict(generator, tensors, source)
    if note:
        z = torch.randn([W_AVG_SAMPLES, config.z_dim], generator=torch.Generator().manual_seed(W_AVG_SEED))
        with torch.no_grad():
            generator.mapping.w_avg.copy_(generator.mapping(z)[:, 0].mean(dim=0))
    return generator, note


def _read_discriminator(state: dict[str, Tensor], source: str) -> Discriminator:
    img_resolution = 2 ** (_count(state, r"convs\.\d+\.conv1\.0\.weight") + 2)
    if "convs.0.0.weight" not in state or "final_conv.0.weight" not in state:
        raise CheckpointError(f"{source}: d is not a rosinality StyleGAN2 discriminator")
    channels = {img_resolution: int(state["convs.0.0.weight"].shape[0]), 4: int(state["final_conv.0.weight"].shape[0])}
    for i, k in enumerate(range(int(math.log2(img_resolution)), 2, -1), start=1):
        channels[2**k] = int(state[f"convs.{i}.conv1.0.weight"].shape[0])
    channel_base, channel_max = infer_channel_schedule(channels, [(32768, 512), (16384, 512)], source)
    kernels = discriminator_kernels(img_resolution)
    taps = fir_taps(state[kernels[0]], source)
    config = DiscriminatorConfig(
        img_resolution=img_resolution,
        channel_base=channel_base,
        channel_max=channel_max,
        mbstd_num_channels=int(state["final_conv.0.weight"].shape[1]) - channels[4],
        resample_filter=taps,
    )
    _check_kernels(state, kernels, taps, source)
    discriminator = Discriminator(config).eval().requires_grad_(False)
    own = discriminator.state_dict()
    tensors = _strict_rename(
        state, discriminator_key_map(img_resolution), kernels, {k: v.shape for k, v in own.items()}, source
    )
    tensors.update({k: v for k, v in own.items() if k.endswith("resample_filter")})
    load_strict(discriminator, tensors, source)
    return discriminator


def read_rosinality(path: str | Path) -> Network:
    """Read a rosinality checkpoint: a converted one (`g_ema`, `latent_avg`, optional `g`, `d`) or a training one.

    Size, style_dim, n_mlp and channel_multiplier are inferred from tensor shapes (and checked against
    `args` when present). Training checkpoints have no `latent_avg`; `w_avg` is then computed (noted in the
    metadata). Loaded weights-only; `argparse.Namespace` is the one extra class allowed.
    """
    path = Path(path)
    loaded = load_torch_checkpoint(path)
    from stylegan_edit.formats.official_decoder import is_official_encoder_checkpoint, read_official_decoder

    if is_official_encoder_checkpoint(loaded):
        return read_official_decoder(loaded, path)
    checkpoint = _check_rosinality(loaded, path)
    with malformed(path, "rosinality checkpoint"):
        try:
            generator, note = read_generator(checkpoint, str(path))
            d = checkpoint.get("d")
            discriminator = _read_discriminator(d, str(path)) if isinstance(d, dict) else None
        except KeyError as exc:
            raise CheckpointError(f"{path}: keys do not match rosinality's StyleGAN2 layout (no {exc})") from None
    metadata = {"source_format": "rosinality", "source_file": path.name}
    if note:
        metadata["note"] = note
    return Network(generator, discriminator, metadata)


def _multiplier(channels: dict[int, int], hint: float) -> int | None:
    candidates = [max(int(hint), 1), 1, 2, 4, 8]
    return next((m for m in candidates if all(rosinality_channels(r, m) == c for r, c in channels.items())), None)


def _writable_generator(generator: Generator) -> None:
    c = generator.config
    problems = []
    if c.architecture != "skip" or c.img_channels != 3 or not c.use_noise:
        problems.append("a 'skip' RGB generator with noise inputs")
    if c.z_dim != c.w_dim:
        problems.append("z_dim == w_dim")
    if not math.isclose(c.mapping_lr_multiplier, 0.01):
        problems.append("mapping lr multiplier 0.01")
    channels = {r: c.channels(r) for r in c.block_resolutions}
    if _multiplier(channels, c.channel_base / 16384) is None:
        problems.append("512 channels up to 32 px and 16384*channel_multiplier/r above (e.g. channel_max 512)")
    if problems:
        raise ValueError(f"rosinality's StyleGAN2 cannot express this generator: it needs {'; '.join(problems)}")
    if c.conv_clamp is not None:
        logger.warning("rosinality has no conv_clamp: the written generator runs unclamped (was %s)", c.conv_clamp)


def _writable_discriminator(discriminator: Discriminator) -> None:
    c = discriminator.config
    channels = {r: c.channels(r) for r in [*c.block_resolutions, 4]}
    if (
        c.architecture != "resnet"
        or c.img_channels != 3
        or c.mbstd_num_channels != 1
        or _multiplier(channels, c.channel_base / 16384) is None
    ):
        raise ValueError(
            "rosinality's discriminator cannot express this one: it needs a resnet RGB discriminator with one "
            "minibatch-stddev channel and rosinality's channel schedule"
        )
    if c.conv_clamp is not None or c.mbstd_group_size != 4:
        logger.warning("rosinality's discriminator has no conv_clamp and a minibatch-stddev group of 4")


def to_rosinality(network: Network, *, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """The converted-checkpoint dict `{g_ema, latent_avg[, d]}` under rosinality's names and shapes; `ValueError`
    for a network rosinality cannot express."""
    generator, discriminator = network.generator, network.discriminator
    if not isinstance(generator, Generator):
        raise ValueError("rosinality files hold StyleGAN2 generators only; write a StyleGAN3 network as .safetensors")
    _writable_generator(generator)
    config = generator.config
    own = generator.state_dict()
    g_ema: dict[str, Tensor] = {}
    for nv, ros in generator_key_map(config.img_resolution, config.mapping_layers):
        value = own[nv]
        if nv.endswith("noise_strength"):
            value = value.reshape(1)
        elif nv.endswith("noise_const"):
            value = value.reshape(1, 1, *value.shape)
        elif nv.endswith("torgb.bias"):
            value = value.reshape(1, -1, 1, 1)
        elif nv.endswith(".const") or (nv.endswith(".weight") and value.ndim == 4):
            value = value.unsqueeze(0)
        g_ema[ros] = value
    kernel = setup_filter(config.resample_filter) * 4
    g_ema.update({name: kernel for name in generator_kernels(config.img_resolution)})
    checkpoint: dict[str, Any] = {"g_ema": g_ema, "latent_avg": own["mapping.w_avg"]}
    if discriminator is not None:
        _writable_discriminator(discriminator)
        d_own = discriminator.state_dict()
        d = {ros: d_own[nv] for nv, ros in discriminator_key_map(discriminator.config.img_resolution)}
        d_kernel = setup_filter(discriminator.config.resample_filter)
        d.update({name: d_kernel for name in discriminator_kernels(discriminator.config.img_resolution)})
        checkpoint["d"] = d
    return _cast(checkpoint, dtype)


def _cast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, Tensor):
        return value.detach().to("cpu", dtype).clone().contiguous()
    return {k: _cast(v, dtype) for k, v in value.items()}


def write_rosinality(path: str | Path, network: Network, *, dtype: torch.dtype = torch.float32) -> None:
    """Write `network` as a rosinality converted checkpoint (`g_ema` + `latent_avg` [+ `d`]), atomically.

    Raises `ValueError` when rosinality's architecture cannot express the network (channel_max < 512, resnet
    generator, z_dim != w_dim, ...). A `conv_clamp` is dropped with a warning: rosinality never clamps.
    """
    checkpoint = to_rosinality(network, dtype=dtype)
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
