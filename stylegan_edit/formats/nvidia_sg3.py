"""Rebuild a StyleGAN3 generator (alias-free, arXiv:2106.12423) from the `G_ema` record of an NVIDIA stylegan3
snapshot: the config from the stored module attributes, then every built layer checked against the record before
the tensors load strictly (docs/formats.md)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from stylegan_edit.files import CheckpointError, build_strict
from stylegan_edit.formats.nvidia_config import attr, check_unconditional, child_of, mapping_fields
from stylegan_edit.formats.persistent import PersistentRecord
from stylegan_edit.formats.sg3_schedule import (
    DEFAULT_CHANNELS,
    channel_schedule,
    check_filter_lengths,
    facts_mismatch,
    schedule_mismatch,
    spec_facts,
    stopband_candidates,
)
from stylegan_edit.generators import StyleGAN3Config, StyleGAN3Generator
from stylegan_edit.generators.alias_free import AliasFreeLayer

_INTS = (
    "in_channels",
    "out_channels",
    "in_sampling_rate",
    "out_sampling_rate",
    "tmp_sampling_rate",
    "up_factor",
    "down_factor",
    "up_taps",
    "down_taps",
    "conv_kernel",
)
_REALS = ("in_cutoff", "out_cutoff", "in_half_width", "out_half_width", "magnitude_ema_beta")
_FLAGS = ("is_torgb", "is_critically_sampled", "use_fp16", "down_radial")


def is_stylegan3_record(record: PersistentRecord, tensors: dict[str, Tensor]) -> bool:
    """Whether a `G_ema` record is an alias-free generator: its synthesis has a Fourier `input` module. (The
    record's source text is not consulted: it is never trusted, let alone run.)"""
    synthesis = record.child("synthesis")
    return (synthesis is not None and synthesis.child("input") is not None) or any(
        key.startswith("synthesis.input.") for key in tensors
    )


def _integer(value: Any, what: str, source: str | Path) -> int:
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return int(value)
    raise CheckpointError(f"{source}: {what} is a {type(value).__name__}, not an integer")


def _real(value: Any, what: str, source: str | Path) -> float:
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)
    if number and math.isfinite(float(value)):
        return float(value)
    shown = repr(value)[:40] if isinstance(value, int | float | str) else f"a {type(value).__name__}"
    raise CheckpointError(f"{source}: {what} is {shown}, not a finite number")


def _flag(value: Any, what: str, source: str | Path) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise CheckpointError(f"{source}: {what} is a {type(value).__name__}, not a bool")


def _square(value: Any, what: str, source: str | Path) -> int:
    """NVIDIA stores sizes as numpy `[width, height]` pairs; only square ones are supported."""
    if isinstance(value, np.ndarray | list | tuple) and len(value) == 2:
        width, height = (_integer(v, what, source) for v in value)
        if width != height:
            raise CheckpointError(f"{source}: {what} is {width}x{height}; only square StyleGAN3 networks are supported")
        return width
    return _integer(value, what, source)


def _layer_facts(name: str, record: PersistentRecord, source: str | Path) -> dict[str, Any]:
    where = f"synthesis.{name}"
    if record.class_name != "SynthesisLayer":
        raise CheckpointError(f"{source}: {where} is a {record.class_name}, not a StyleGAN3 SynthesisLayer")
    facts: dict[str, Any] = {"name": name}
    facts.update({k: _flag(attr(record, k, source), f"{where}.{k}", source) for k in _FLAGS})
    facts.update({k: _integer(attr(record, k, source), f"{where}.{k}", source) for k in _INTS})
    facts.update({k: _real(attr(record, k, source), f"{where}.{k}", source) for k in _REALS})
    facts.update({k: _square(record.state.get(k), f"{where}.{k}", source) for k in ("in_size", "out_size")})
    padding = attr(record, "padding", source)
    if not isinstance(padding, list | tuple) or len(padding) != 4:
        raise CheckpointError(f"{source}: {where}.padding is not a list of 4 integers")
    facts["padding"] = [_integer(p, f"{where}.padding", source) for p in padding]
    clamp = attr(record, "conv_clamp", source)
    facts["conv_clamp"] = None if clamp is None else _real(clamp, f"{where}.conv_clamp", source)
    return facts


def _built_facts(layer: AliasFreeLayer) -> dict[str, Any]:
    names = ("tmp_sampling_rate", "up_factor", "down_factor", "up_taps", "down_taps", "conv_kernel", "down_radial")
    return {
        **spec_facts(layer.spec),
        **{name: getattr(layer, name) for name in names},
        "padding": list(layer.padding),
        "conv_clamp": layer.conv_clamp,
        "magnitude_ema_beta": layer.magnitude_ema_beta,
    }


def _layer_records(synthesis: PersistentRecord, source: str | Path) -> dict[str, PersistentRecord]:
    names = synthesis.state.get("layer_names")
    if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"{source}: the StyleGAN3 synthesis network has no list of layer_names")
    return {name: child_of(synthesis, name, source) for name in names}


def _number_hint(kwargs: dict[str, Any], name: str) -> float | None:
    value = kwargs.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _recover_config(
    record: PersistentRecord,
    synthesis: PersistentRecord,
    layers: list[dict[str, Any]],
    tensors: dict[str, Tensor],
    source: str | Path,
) -> StyleGAN3Config:
    recorded = [r.state.get("_init_kwargs") for r in (synthesis, record)]
    kwargs = {k: v for found in recorded if isinstance(found, dict) for k, v in found.items()}
    num_layers = int(attr(synthesis, "num_layers", source))
    if len(layers) != num_layers + 1:
        raise CheckpointError(f"{source}: {len(layers)} synthesis layers listed, num_layers says {num_layers} + ToRGB")
    # Per-layer hyperparameters come from the first layer (never critically sampled, never the ToRGB); the
    # check of the built network then holds every other layer to them, naming the first that differs.
    first = layers[0]
    widest = max(first["in_sampling_rate"], first["out_sampling_rate"])
    resampled = [kind for kind in ("up", "down") if first[f"{kind}_factor"] > 1]
    filter_size = first[f"{resampled[0]}_taps"] / first[f"{resampled[0]}_factor"] if resampled else None
    filter_size = filter_size or _number_hint(kwargs, "filter_size") or 6
    lrelu_upsampling = first["tmp_sampling_rate"] / widest
    if filter_size != int(filter_size) or lrelu_upsampling != int(lrelu_upsampling):
        raise CheckpointError(f"{source}: layer {first['name']}'s filter lengths and sampling rates are not multiples")
    config = StyleGAN3Config(
        img_resolution=int(attr(record, "img_resolution", source)),
        img_channels=int(attr(record, "img_channels", source)),
        z_dim=int(attr(record, "z_dim", source)),
        w_dim=int(attr(record, "w_dim", source)),
        **mapping_fields(record, tensors, source),
        num_layers=num_layers,
        num_critical=int(attr(synthesis, "num_critical", source)),
        first_cutoff=first["in_cutoff"],
        margin_size=int(attr(synthesis, "margin_size", source)),
        output_scale=_real(attr(synthesis, "output_scale", source), "synthesis.output_scale", source),
        num_fp16_res=int(attr(synthesis, "num_fp16_res", source)),
        conv_kernel=first["conv_kernel"],
        filter_size=int(filter_size),
        lrelu_upsampling=int(lrelu_upsampling),
        use_radial_filters=first["down_radial"],
        conv_clamp=first["conv_clamp"],
        magnitude_ema_beta=first["magnitude_ema_beta"],
    )
    base_hint, max_hint = _number_hint(kwargs, "channel_base"), _number_hint(kwargs, "channel_max")
    hints = [(int(base_hint), int(max_hint))] if base_hint and max_hint else []
    channel_base, channel_max = channel_schedule(layers, [*hints, *DEFAULT_CHANNELS], source)
    config = dataclasses.replace(config, channel_base=channel_base, channel_max=channel_max)
    stopband_hints = (_number_hint(kwargs, "first_stopband"), _number_hint(kwargs, "last_stopband_rel"))
    first_problem = None
    for first_stopband, rel in stopband_candidates(layers, config.num_critical, config.img_resolution, stopband_hints):
        candidate = dataclasses.replace(config, first_stopband=first_stopband, last_stopband_rel=rel)
        problem = schedule_mismatch(candidate, layers)
        if problem is None:
            return candidate
        first_problem = first_problem or problem
    raise CheckpointError(
        f"{source}: no StyleGAN3 config reproduces the stored layers ({first_problem or 'no stopbands to try'})"
    )


def _check_built(
    skeleton: StyleGAN3Generator, synthesis: PersistentRecord, layers: list[dict[str, Any]], source: str | Path
) -> None:
    built = skeleton.synthesis
    if built.layer_names != [layer["name"] for layer in layers]:
        raise CheckpointError(
            f"{source}: the pickle's layers are {', '.join(layer['name'] for layer in layers)}; the rebuilt network's "
            f"are {', '.join(built.layer_names)}"
        )
    for layer, stored in zip(built.layers, layers, strict=True):
        problem = facts_mismatch(_built_facts(layer), stored)
        if problem is not None:
            raise CheckpointError(f"{source}: layer {stored['name']}: {problem}")
    record = child_of(synthesis, "input", source)
    if record.class_name != "SynthesisInput":
        raise CheckpointError(f"{source}: synthesis.input is a {record.class_name}, not a StyleGAN3 SynthesisInput")
    ours = {
        "w_dim": built.input.w_dim,
        "channels": built.input.channels,
        "size": built.input.size,
        "sampling_rate": float(built.input.sampling_rate),
        "bandwidth": float(built.input.bandwidth),
    }
    stored = {
        "w_dim": _integer(attr(record, "w_dim", source), "synthesis.input.w_dim", source),
        "channels": _integer(attr(record, "channels", source), "synthesis.input.channels", source),
        "size": _square(record.state.get("size"), "synthesis.input.size", source),
        "sampling_rate": _real(attr(record, "sampling_rate", source), "synthesis.input.sampling_rate", source),
        "bandwidth": _real(attr(record, "bandwidth", source), "synthesis.input.bandwidth", source),
    }
    problem = facts_mismatch(ours, stored)
    if problem is not None:
        raise CheckpointError(f"{source}: synthesis.input: {problem}")


def build_stylegan3_generator(
    record: PersistentRecord, tensors: dict[str, Tensor], source: str | Path
) -> tuple[StyleGAN3Generator, dict[str, str]]:
    """The StyleGAN3 generator of a `networks_stylegan3.Generator` record and its harvested tensors (filters
    included), loaded strictly; plus metadata notes. Raises `CheckpointError` with one line naming the first
    attribute the rebuilt network does not reproduce."""
    if record.class_name != "Generator":
        raise CheckpointError(f"{source}: G_ema is a {record.class_name}, not a StyleGAN3 Generator")
    check_unconditional(record, source)
    synthesis = child_of(record, "synthesis", source)
    if synthesis.class_name != "SynthesisNetwork":
        raise CheckpointError(f"{source}: G_ema.synthesis is a {synthesis.class_name}, not a SynthesisNetwork")
    layers = [_layer_facts(name, child, source) for name, child in _layer_records(synthesis, source).items()]
    config = _recover_config(record, synthesis, layers, tensors, source)
    for where, value in (("G_ema", record), ("G_ema.synthesis", synthesis), ("G_ema.mapping", record.child("mapping"))):
        if value is not None and int(attr(value, "num_ws", source, config.num_ws)) != config.num_ws:
            raise CheckpointError(f"{source}: {where}.num_ws is not num_layers + 2 = {config.num_ws}")
    check_filter_lengths(config, tensors, source)
    with torch.device("meta"):
        skeleton = StyleGAN3Generator(config)
    _check_built(skeleton, synthesis, layers, source)
    generator = build_strict(lambda: StyleGAN3Generator(config), tensors, source).eval().requires_grad_(False)
    metadata: dict[str, str] = {}
    fp16 = [layer["name"] for layer in layers if layer["use_fp16"]]  # the last ones: sampling rates only grow
    if fp16:
        span = fp16[0] if len(fp16) == 1 else f"{fp16[0]} to {fp16[-1]}"
        metadata["note"] = (
            f"layers {span} ran in fp16 in NVIDIA's code on CUDA; stylegan-edit runs them in fp32, as NVIDIA's code "
            "does on the CPU"
        )
    return generator, metadata
