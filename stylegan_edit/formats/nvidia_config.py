"""Rebuild `GeneratorConfig` / `DiscriminatorConfig` from the module state stored in an NVIDIA network pickle.

The constructor kwargs a pickle records omit every default, and the defaults differ between
stylegan2-ada-pytorch and stylegan3 (docs/formats.md), so the facts come from the per-module attributes and
weight shapes; the kwargs only break ties (e.g. a `channel_max` that never binds).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from torch import Tensor

from stylegan_edit.files import CheckpointError, build_strict
from stylegan_edit.formats.foreign import fir_taps, infer_channel_schedule
from stylegan_edit.formats.persistent import PersistentRecord
from stylegan_edit.generators import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

_MISSING = object()


def attr(record: PersistentRecord, name: str, source: str | Path, default: Any = _MISSING) -> Any:
    """The stored attribute `name` of `record` (numpy scalars as Python numbers); a `CheckpointError` if absent."""
    value = record.state.get(name, default)
    if value is _MISSING:
        raise CheckpointError(
            f"{source}: {record.class_name} has no attribute {name!r} (not a stylegan2-ada-pytorch or stylegan3 "
            "network pickle?)"
        )
    return value.item() if hasattr(value, "item") and not isinstance(value, Tensor) else value  # numpy scalars


def child_of(record: PersistentRecord, name: str, source: str | Path) -> PersistentRecord:
    """The child module record `name` of `record`; a `CheckpointError` if it has none."""
    child = record.child(name)
    if child is None:
        raise CheckpointError(f"{source}: {record.class_name} has no {name!r} module")
    return child


def _single(values: list[Any], what: str, source: str | Path) -> Any:
    """The one value all layers share; a `CheckpointError` naming `what` when they differ."""
    distinct = sorted({repr(v) for v in values})
    if len(distinct) != 1:
        raise CheckpointError(f"{source}: {what} differs between layers ({', '.join(distinct)}); not supported")
    return values[0]


def _kwarg_hints(record: PersistentRecord) -> list[tuple[int, int]]:
    kwargs = record.state.get("_init_kwargs") or {}
    # ada's Generator nests synthesis_kwargs; stylegan3's networks_stylegan2 and both Discriminators pass them flat.
    nested = kwargs.get("synthesis_kwargs")
    inner = nested if isinstance(nested, dict) and "channel_base" in nested else kwargs
    hints = [(int(inner.get("channel_base", 32768)), int(inner.get("channel_max", 512)))]
    return [*hints, (32768, 512), (16384, 512)]


def check_unconditional(record: PersistentRecord, source: str | Path) -> None:
    """Refuse a conditional (`c_dim > 0`) network with one line."""
    if int(attr(record, "c_dim", source, 0) or 0) > 0:
        raise CheckpointError(f"{source}: conditional networks (c_dim > 0) are not supported yet")


def mapping_fields(record: PersistentRecord, tensors: dict[str, Tensor], source: str | Path) -> dict[str, Any]:
    """`mapping_layers`, `mapping_lr_multiplier` and `w_avg_beta` of a Generator record's mapping network (the
    same `MappingNetwork` in stylegan2-ada-pytorch and both stylegan3 generators)."""
    mapping = child_of(record, "mapping", source)
    num_layers = int(attr(mapping, "num_layers", source))
    fcs = [child_of(mapping, f"fc{i}", source) for i in range(num_layers)]
    lr_multiplier = _single([float(attr(fc, "bias_gain", source)) for fc in fcs], "the mapping lr multiplier", source)
    if _single([attr(fc, "activation", source) for fc in fcs], "the mapping activation", source) != "lrelu":
        raise CheckpointError(f"{source}: only the lrelu mapping network is supported")
    w_avg_beta = attr(mapping, "w_avg_beta", source)
    if w_avg_beta is None or "mapping.w_avg" not in tensors:
        raise CheckpointError(f"{source}: the mapping network tracks no w_avg; not supported")
    return dict(mapping_layers=num_layers, mapping_lr_multiplier=float(lr_multiplier), w_avg_beta=float(w_avg_beta))


def build_generator(
    record: PersistentRecord, tensors: dict[str, Tensor], source: str | Path
) -> tuple[Generator, dict[str, str]]:
    """The StyleGAN2 generator of a `Generator` record and its harvested tensors, loaded strictly; plus metadata
    notes. (StyleGAN3 records go to `nvidia_sg3.build_stylegan3_generator`.)"""
    if record.class_name != "Generator":
        raise CheckpointError(f"{source}: G_ema is a {record.class_name}, not a StyleGAN2 Generator")
    check_unconditional(record, source)
    mapping = mapping_fields(record, tensors, source)
    synthesis = child_of(record, "synthesis", source)
    img_resolution = int(attr(record, "img_resolution", source))
    resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
    blocks = {r: child_of(synthesis, f"b{r}", source) for r in resolutions}
    conv_layers = [x for b in blocks.values() for n in ("conv0", "conv1") if (x := b.child(n)) is not None]
    torgbs = [torgb for block in blocks.values() if (torgb := block.child("torgb")) is not None]
    architecture = _single([attr(b, "architecture", source) for b in blocks.values()], "the architecture", source)
    if architecture not in ("skip", "resnet"):
        raise CheckpointError(f"{source}: generator architecture {architecture!r} is not supported (skip, resnet)")
    if _single([attr(x, "activation", source) for x in conv_layers], "the activation", source) != "lrelu":
        raise CheckpointError(f"{source}: only lrelu synthesis layers are supported")
    clamps = [attr(x, "conv_clamp", source) for x in conv_layers + torgbs]
    conv_clamp = _single([None if c is None else float(c) for c in clamps], "conv_clamp", source)
    use_noise = _single([bool(attr(x, "use_noise", source)) for x in conv_layers], "use_noise", source)

    channels = {4: int(_tensor(tensors, "synthesis.b4.const", source).shape[0])}
    channels.update({r: int(_tensor(tensors, f"synthesis.b{r}.conv1.weight", source).shape[0]) for r in resolutions})
    channel_base, channel_max = infer_channel_schedule(channels, _kwarg_hints(record), source)
    config = GeneratorConfig(
        img_resolution=img_resolution,
        img_channels=int(attr(record, "img_channels", source)),
        z_dim=int(attr(record, "z_dim", source)),
        w_dim=int(attr(record, "w_dim", source)),
        **mapping,
        channel_base=channel_base,
        channel_max=channel_max,
        conv_clamp=conv_clamp,
        architecture=architecture,
        resample_filter=fir_taps(_tensor(tensors, "synthesis.b4.resample_filter", source), source),
        use_noise=use_noise,
    )
    if int(attr(synthesis, "num_ws", source, config.num_ws)) != config.num_ws:
        raise CheckpointError(f"{source}: the synthesis network uses an unexpected number of W codes")
    generator = build_strict(lambda: Generator(config), tensors, source).eval().requires_grad_(False)
    metadata: dict[str, str] = {}
    fp16 = [r for r, block in blocks.items() if attr(block, "use_fp16", source, False)]
    if fp16:
        metadata["note"] = (
            f"blocks {', '.join(map(str, fp16))} ran in fp16 in NVIDIA's code (CUDA); stylegan-edit runs them in "
            "fp32, which differs by about 1e-3"
        )
    return generator, metadata


def build_discriminator(
    record: PersistentRecord, tensors: dict[str, Tensor], source: str | Path
) -> tuple[Discriminator | None, str]:
    """The discriminator of a `Discriminator` record, or `(None, reason)` when our architecture cannot express it."""
    if record.class_name != "Discriminator":
        return None, f"D is a {record.class_name}, not a StyleGAN2 Discriminator"
    if int(attr(record, "c_dim", source, 0) or 0) > 0:
        return None, "conditional discriminators are not supported"
    img_resolution = int(attr(record, "img_resolution", source))
    resolutions = [2**i for i in range(int(math.log2(img_resolution)), 2, -1)]
    blocks = {r: child_of(record, f"b{r}", source) for r in resolutions}
    epilogue = child_of(record, "b4", source)
    archs = {attr(x, "architecture", source) for x in [*blocks.values(), epilogue]}
    if len(archs) != 1 or not archs <= {"skip", "resnet"}:
        return None, f"architecture {', '.join(sorted(map(str, archs)))} is not supported (skip, resnet)"
    mbstd = epilogue.child("mbstd")
    group_size = attr(mbstd, "group_size", source) if mbstd is not None else 4
    num_channels = int(attr(mbstd, "num_channels", source)) if mbstd is not None else 0
    if group_size is None:
        return None, "a minibatch-stddev group over the whole batch (group_size None) is not supported"
    layers = [b.child(n) for b in blocks.values() for n in ("fromrgb", "conv0", "conv1")] + [epilogue.child("conv")]
    clamps = {attr(x, "conv_clamp", source) for x in layers if x is not None}
    if len(clamps) != 1:
        return None, "conv_clamp differs between layers"
    channels = {r: int(_tensor(tensors, f"b{r}.conv0.weight", source).shape[0]) for r in resolutions}
    channels[4] = int(_tensor(tensors, "b4.conv.weight", source).shape[0])
    try:
        channel_base, channel_max = infer_channel_schedule(channels, _kwarg_hints(record), source)
    except CheckpointError as exc:
        return None, str(exc).split(": ", 1)[-1]
    clamp = clamps.pop()
    config = DiscriminatorConfig(
        img_resolution=img_resolution,
        img_channels=int(attr(record, "img_channels", source)),
        channel_base=channel_base,
        channel_max=channel_max,
        conv_clamp=None if clamp is None else float(clamp),
        architecture=archs.pop(),
        mbstd_group_size=int(group_size),
        mbstd_num_channels=num_channels,
        resample_filter=fir_taps(_tensor(tensors, f"b{img_resolution}.resample_filter", source), source),
    )
    discriminator = build_strict(lambda: Discriminator(config), tensors, source).eval().requires_grad_(False)
    return discriminator, ""


def _tensor(tensors: dict[str, Tensor], name: str, source: str | Path) -> Tensor:
    """The harvested tensor `name`; a `CheckpointError` if the pickle has none."""
    if name not in tensors:
        raise CheckpointError(f"{source}: the pickle has no tensor {name}")
    return tensors[name]
