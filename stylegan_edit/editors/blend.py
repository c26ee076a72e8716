"""Mixing two generators of one architecture: layer swapping (Pinkney & Adler, arXiv:2010.05334, "toonification")
and weight-space interpolation, globally or per resolution.

Layer swapping: `blend_layers(a, b, swap_res)` takes A's synthesis blocks below `swap_res` and B's at and above
it, with the mapping network from A (or B). So `swap_res=4` is B's whole synthesis network under A's mapping,
and `swap_res=2 * img_resolution` (no block at or above it) is model A unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from stylegan_edit.generators import Generator


def check_same_architecture(model_a: Generator, model_b: Generator) -> None:
    """Raise a one-line `ValueError` naming the first config field (or tensor) in which the two models differ."""
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


def swap_weights(img_resolution: int, swap_res: int, transition_width: float = 0.0) -> dict[int, float]:
    """The share of model B in each synthesis block, by resolution.

    transition_width: 0 switches from A to B at `swap_res`; w > 1 ramps linearly over w resolution levels
    (octaves) centred on the boundary between `swap_res / 2` and `swap_res` (w <= 1 equals the hard switch).
    """
    top = 2 * img_resolution
    if swap_res < 4 or swap_res > top or swap_res & (swap_res - 1):
        raise ValueError(
            f"swap resolution must be a power of two from 4 to {top} for a {img_resolution} px model "
            f"({top} keeps every block of the first model), got {swap_res}"
        )
    if not transition_width >= 0 or not math.isfinite(transition_width):
        raise ValueError(f"transition width must be a non-negative number of resolution levels, got {transition_width}")
    weights = {}
    boundary = math.log2(swap_res) - 0.5
    for level in range(2, int(math.log2(img_resolution)) + 1):
        offset = level - boundary
        if transition_width <= 1:
            weights[2**level] = 1.0 if offset > 0 else 0.0
        else:
            weights[2**level] = min(1.0, max(0.0, offset / transition_width + 0.5))
    return weights


def blend_layers(
    model_a: Generator,
    model_b: Generator,
    swap_res: int,
    *,
    transition_width: float = 0.0,
    mapping_from: Literal["a", "b"] = "a",
) -> Generator:
    """A new generator with A's blocks below `swap_res`, B's at and above it, and the mapping of `mapping_from`.

    Low resolutions carry structure (pose, face shape), high ones texture and rendering style, so blending a
    photo model (A) with its fine-tuned toon model (B) at 16-32 px gives photo structure with toon rendering.
    Every tensor of a block (weights, biases, noise maps) follows the block; with a transition they are lerped.
    """
    if mapping_from not in ("a", "b"):
        raise ValueError(f"mapping_from must be 'a' or 'b', got {mapping_from!r}")
    check_same_architecture(model_a, model_b)
    weights = swap_weights(model_a.img_resolution, swap_res, transition_width)
    return _mix(model_a, model_b, weights, mapping_weight=1.0 if mapping_from == "b" else 0.0)


def interpolate_models(
    model_a: Generator,
    model_b: Generator,
    alpha: float,
    *,
    resolution_alphas: Mapping[int, float] | None = None,
) -> Generator:
    """Weight-space interpolation `(1 - alpha) * A + alpha * B`; alpha 0 and 1 reproduce A and B exactly.

    resolution_alphas: per synthesis-block alpha by resolution (e.g. `{4: 0.0, 64: 1.0}`), overriding `alpha`
    there; the mapping network and unlisted blocks use `alpha`.
    """
    check_same_architecture(model_a, model_b)
    resolution_alphas = dict(resolution_alphas or {})
    known = model_a.config.block_resolutions
    for resolution, value in [(None, alpha), *resolution_alphas.items()]:
        if resolution is not None and resolution not in known:
            raise ValueError(f"no block at resolution {resolution} (the model has {', '.join(map(str, known))})")
        if not math.isfinite(value):
            raise ValueError(f"alpha must be a finite number, got {value}")
    weights = {res: float(resolution_alphas.get(res, alpha)) for res in known}
    return _mix(model_a, model_b, weights, mapping_weight=float(alpha))


def _mix(model_a: Generator, model_b: Generator, block_weights: dict[int, float], mapping_weight: float) -> Generator:
    mixed = Generator(model_a.config).eval().requires_grad_(False)
    parts: list[tuple[nn.Module, nn.Module, nn.Module, float]] = [
        (mixed.mapping, model_a.mapping, model_b.mapping, mapping_weight)
    ]
    for out_block, block_a, block_b in zip(
        mixed.synthesis.blocks, model_a.synthesis.blocks, model_b.synthesis.blocks, strict=True
    ):
        parts.append((out_block, block_a, block_b, block_weights[out_block.resolution]))
    covered = 0
    for target, source_a, source_b, weight in parts:
        state_a, state_b = source_a.state_dict(), source_b.state_dict()
        target.load_state_dict({k: _lerp(v, state_b[k], weight) for k, v in state_a.items()}, strict=True)
        covered += len(state_a)
    # Every tensor of the generator lives in the mapping network or one synthesis block.
    assert covered == len(mixed.state_dict()), "blend missed generator tensors outside the blocks"
    return mixed


def _lerp(a: Tensor, b: Tensor, weight: float) -> Tensor:
    a, b = a.detach().cpu(), b.detach().cpu()
    if weight == 0 or not a.is_floating_point():
        return a.clone()
    if weight == 1:
        return b.clone()
    return torch.lerp(a, b.to(a.dtype), weight)
