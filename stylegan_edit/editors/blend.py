"""Mixing two generators of one architecture: layer swapping (Pinkney & Adler, arXiv:2010.05334, "toonification")
and weight-space interpolation, globally or per resolution, of StyleGAN2 or StyleGAN3 (arXiv:2106.12423) networks.

Layer swapping: `blend_layers(a, b, swap_res)` takes A's synthesis parts below `swap_res` and B's at and above it,
with the mapping network from A (or B). StyleGAN2's parts are its blocks, at their resolutions: `swap_res=4` is B's
whole synthesis network under A's mapping, `swap_res=2 * img_resolution` is model A unchanged. StyleGAN3 has no
blocks: its parts are the Fourier input and the layers `L0...`, and a part's resolution is its output sampling rate
(the input's: the rate it is sampled at, that of L0's input), so the same `swap_res` rule (and the same transition,
over octaves of sampling rate) applies; `swap_layer=k` swaps StyleGAN3 by W+ index instead: the parts that
`ws[:, :k]` drive (the input is driven by index 0, `L{i}` by index i + 1) from A, the rest from B.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from stylegan_edit.generators import AnyGenerator, Generator, build_generator, generator_class


def check_same_architecture(model_a: AnyGenerator, model_b: AnyGenerator) -> None:
    """Raise a one-line `ValueError` naming the family, or the first config field (or tensor), in which the two
    models differ."""
    family_a, family_b = generator_class(model_a.config), generator_class(model_b.config)
    if family_a != family_b:
        raise ValueError(
            f"the models do not share an architecture: the first is {family_a}, the second {family_b} "
            "(blend and interpolate mix two networks of one family)"
        )
    for config_field in dataclasses.fields(model_a.config):
        value_a = getattr(model_a.config, config_field.name)
        value_b = getattr(model_b.config, config_field.name)
        if value_a != value_b:
            raise ValueError(
                f"the models do not share an architecture: {config_field.name} is {value_a} in the first and "
                f"{value_b} in the second"
            )
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    for key, tensor in state_a.items():
        if key not in state_b or state_b[key].shape != tensor.shape:
            raise ValueError(f"the models do not share an architecture: tensor {key} differs")


def synthesis_parts(generator: AnyGenerator) -> list[tuple[str, nn.Module, int]]:
    """The synthesis network's parts that a blend takes whole from one model, in order, as (name, module,
    resolution): StyleGAN2's blocks (`b4`, ...; resolution in px); StyleGAN3's Fourier input (`input`) and layers
    (`L0_36_512`, ...; their output sampling rate), part j driven by W+ code j."""
    if isinstance(generator, Generator):
        return [(f"b{block.resolution}", block, block.resolution) for block in generator.synthesis.blocks]
    synthesis = generator.synthesis
    parts: list[tuple[str, nn.Module, int]] = [("input", synthesis.input, int(synthesis.input.sampling_rate))]
    parts += [
        (name, layer, layer.out_sampling_rate)
        for name, layer in zip(synthesis.layer_names, synthesis.layers, strict=True)
    ]
    return parts


def swap_weights(img_resolution: int, swap_res: int, transition_width: float = 0.0) -> dict[int, float]:
    """The share of model B in each StyleGAN2 synthesis block, by resolution.

    transition_width: 0 switches from A to B at `swap_res`; w > 1 ramps linearly over w resolution levels
    (octaves) centred on the boundary between `swap_res / 2` and `swap_res` (w <= 1 equals the hard switch).
    """
    _check_swap_res(img_resolution, swap_res)
    _check_width(transition_width, "resolution levels")
    levels = range(2, int(math.log2(img_resolution)) + 1)
    return {2**level: _ramp(level - (math.log2(swap_res) - 0.5), transition_width) for level in levels}


def swap_shares(
    generator: AnyGenerator,
    *,
    swap_res: int | None = None,
    swap_layer: int | None = None,
    transition_width: float = 0.0,
) -> dict[str, float]:
    """The share of model B in each synthesis part of `generator`'s architecture (see `synthesis_parts`), by name.

    Exactly one of swap_res (StyleGAN2 or StyleGAN3: parts whose resolution is below it from A) and swap_layer
    (StyleGAN3: parts driven by W+ codes below it from A; 0 takes all of B's synthesis, num_ws keeps A's).
    transition_width: the ramp's width in resolution levels (octaves) or in layers (<= 1: a hard switch).
    """
    if (swap_res is None) == (swap_layer is None):
        raise ValueError("give exactly one of swap_res and swap_layer")
    parts = synthesis_parts(generator)
    if swap_layer is not None:
        if isinstance(generator, Generator):
            raise ValueError(
                "swapping by layer index is for StyleGAN3, whose layers each take one W+ code; use swap_res for "
                "StyleGAN2's blocks"
            )
        if not 0 <= swap_layer <= len(parts):
            raise ValueError(f"swap layer must be in [0, {len(parts)}] for this model, got {swap_layer}")
        _check_width(transition_width, "layers")
        return {name: _ramp(j - (swap_layer - 0.5), transition_width) for j, (name, _, _) in enumerate(parts)}
    assert swap_res is not None
    _check_swap_res(generator.img_resolution, swap_res)
    _check_width(transition_width, "resolution levels")
    boundary = math.log2(swap_res) - 0.5
    return {name: _ramp(math.log2(res) - boundary, transition_width) for name, _, res in parts}


def blend_layers(
    model_a: AnyGenerator,
    model_b: AnyGenerator,
    swap_res: int | None = None,
    *,
    swap_layer: int | None = None,
    transition_width: float = 0.0,
    mapping_from: Literal["a", "b"] = "a",
) -> AnyGenerator:
    """A new generator with A's parts below `swap_res` (or, StyleGAN3, below W+ index `swap_layer`), B's from
    there on, and the mapping of `mapping_from` (see `swap_shares`).

    Low resolutions carry structure (pose, face shape), high ones texture and rendering style, so blending a
    photo model (A) with its fine-tuned toon model (B) at 16-32 px gives photo structure with toon rendering.
    Every tensor of a part (weights, biases, noise maps; StyleGAN3's magnitude EMAs and the input's frequencies)
    follows the part; with a transition they are lerped.
    """
    if mapping_from not in ("a", "b"):
        raise ValueError(f"mapping_from must be 'a' or 'b', got {mapping_from!r}")
    check_same_architecture(model_a, model_b)
    shares = swap_shares(model_a, swap_res=swap_res, swap_layer=swap_layer, transition_width=transition_width)
    return _mix(model_a, model_b, list(shares.values()), mapping_weight=1.0 if mapping_from == "b" else 0.0)


def interpolate_models(
    model_a: AnyGenerator,
    model_b: AnyGenerator,
    alpha: float,
    *,
    resolution_alphas: Mapping[int, float] | None = None,
) -> AnyGenerator:
    """Weight-space interpolation `(1 - alpha) * A + alpha * B`; alpha 0 and 1 reproduce A and B exactly.

    resolution_alphas: per synthesis-part alpha by resolution (StyleGAN2: block resolution, e.g. `{4: 0.0,
    64: 1.0}`; StyleGAN3: output sampling rate), overriding `alpha` there; the mapping network and unlisted
    parts use `alpha`.
    """
    check_same_architecture(model_a, model_b)
    resolution_alphas = dict(resolution_alphas or {})
    parts = synthesis_parts(model_a)
    known = sorted({res for _, _, res in parts})
    for resolution, value in [(None, alpha), *resolution_alphas.items()]:
        if resolution is not None and resolution not in known:
            what = "block at resolution" if isinstance(model_a, Generator) else "layer at sampling rate"
            raise ValueError(f"no {what} {resolution} (the model has {', '.join(map(str, known))})")
        if not math.isfinite(value):
            raise ValueError(f"alpha must be a finite number, got {value}")
    weights = [float(resolution_alphas.get(res, alpha)) for _, _, res in parts]
    return _mix(model_a, model_b, weights, mapping_weight=float(alpha))


def _mix(model_a: AnyGenerator, model_b: AnyGenerator, weights: Sequence[float], mapping_weight: float) -> AnyGenerator:
    mixed = build_generator(model_a.config).eval().requires_grad_(False)
    parts: list[tuple[nn.Module, nn.Module, nn.Module, float]] = [
        (mixed.mapping, model_a.mapping, model_b.mapping, mapping_weight)
    ]
    for (_, target, _), (_, part_a, _), (_, part_b, _), weight in zip(
        synthesis_parts(mixed), synthesis_parts(model_a), synthesis_parts(model_b), weights, strict=True
    ):
        parts.append((target, part_a, part_b, weight))
    covered = 0
    for target, source_a, source_b, weight in parts:
        state_a, state_b = source_a.state_dict(), source_b.state_dict()
        target.load_state_dict({k: _lerp(v, state_b[k], weight) for k, v in state_a.items()}, strict=True)
        covered += len(state_a)
    # Every tensor of the generator lives in the mapping network or one synthesis part.
    assert covered == len(mixed.state_dict()), "blend missed generator tensors outside the synthesis parts"
    return mixed


def _check_swap_res(img_resolution: int, swap_res: int) -> None:
    top = 2 * img_resolution
    if swap_res < 4 or swap_res > top or swap_res & (swap_res - 1):
        raise ValueError(
            f"swap resolution must be a power of two from 4 to {top} for a {img_resolution} px model "
            f"({top} keeps all of the first model), got {swap_res}"
        )


def _check_width(transition_width: float, unit: str) -> None:
    if not transition_width >= 0 or not math.isfinite(transition_width):
        raise ValueError(f"transition width must be a non-negative number of {unit}, got {transition_width}")


def _ramp(offset: float, transition_width: float) -> float:
    """B's share of a part `offset` levels past the boundary: a step, or (width > 1) a linear ramp across it."""
    if transition_width <= 1:
        return 1.0 if offset > 0 else 0.0
    return min(1.0, max(0.0, offset / transition_width + 0.5))


def _lerp(a: Tensor, b: Tensor, weight: float) -> Tensor:
    a, b = a.detach().cpu(), b.detach().cpu()
    if weight == 0 or not a.is_floating_point():
        return a.clone()
    if weight == 1:
        return b.clone()
    return torch.lerp(a, b.to(a.dtype), weight)
