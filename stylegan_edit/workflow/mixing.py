"""Mixing two generators of one architecture (StyleGAN2 or StyleGAN3): layer swapping (`blend`, toonification) and
weight-space interpolation (`interpolate`), with the provenance recorded on the files `blend` / `interpolate` write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from stylegan_edit.editors.blend import blend_layers, interpolate_models, swap_shares
from stylegan_edit.formats.tuned import load_any_generator
from stylegan_edit.generators import AnyGenerator, Generator, StyleGAN3Generator
from stylegan_edit.workflow.checks import at_least, finite, one_of

ModelSpec = Generator | StyleGAN3Generator | str | Path


def blend(
    model_a: ModelSpec,
    model_b: ModelSpec,
    *,
    swap_res: int | None = None,
    swap_layer: int | None = None,
    transition_width: float = 0.0,
    mapping_from: Literal["a", "b"] = "a",
) -> AnyGenerator:
    """Layer swapping: A's synthesis parts below `swap_res` (structure), B's at and above it (texture,
    rendering style), and the mapping network (with w_avg) of `mapping_from`.

    model_a, model_b: generators, or checkpoints in any supported format / bundled names (loaded on the CPU);
    both StyleGAN2 or both StyleGAN3. swap_res: a power of two from 4 (all of B's synthesis) to twice the models'
    resolution (all of A); StyleGAN2 swaps its blocks by resolution, StyleGAN3 its layers by output sampling rate.
    swap_layer (StyleGAN3, instead of swap_res): the parts driven by W+ codes below it from A (0: all of B,
    num_ws: all of A). transition_width: ramp the share of B linearly over this many resolution levels (with
    swap_layer: layers; <= 1: a hard switch). The arguments are checked before either model is loaded (swap_res
    and swap_layer against the model after).
    """
    if (swap_res is None) == (swap_layer is None):
        raise ValueError("give exactly one of swap_res and swap_layer")
    if swap_res is not None:
        at_least("swap_res", swap_res, 4)
        if swap_res & (swap_res - 1):
            raise ValueError(f"swap resolution must be a power of two, got {swap_res}")
    if swap_layer is not None:
        at_least("swap_layer", swap_layer, 0)
    finite("transition_width", transition_width, min=0)
    one_of("mapping_from", mapping_from, ("a", "b"))
    return blend_layers(
        _generator(model_a),
        _generator(model_b),
        swap_res,
        swap_layer=swap_layer,
        transition_width=transition_width,
        mapping_from=mapping_from,
    )


def interpolate(
    model_a: ModelSpec,
    model_b: ModelSpec,
    *,
    alpha: float = 0.5,
    resolution_alphas: Mapping[int, float] | None = None,
) -> AnyGenerator:
    """Weight-space interpolation `(1 - alpha) * A + alpha * B` (0 gives A, 1 gives B, outside extrapolates).

    resolution_alphas: per synthesis-block alpha by resolution (e.g. `{4: 0.0, 64: 1.0}`; StyleGAN3: by the
    layers' output sampling rate), overriding `alpha` there; a resolution without a part is refused. Every alpha
    must be finite.
    """
    finite("alpha", alpha)
    for resolution, value in (resolution_alphas or {}).items():
        finite(f"alpha at resolution {resolution}", value)
    return interpolate_models(_generator(model_a), _generator(model_b), alpha, resolution_alphas=resolution_alphas)


def blend_shares(
    generator: AnyGenerator,
    *,
    swap_res: int | None = None,
    swap_layer: int | None = None,
    transition_width: float = 0.0,
) -> dict[str, float]:
    """The share of model B in each synthesis part of a `blend` of `generator`'s architecture, by part name
    (StyleGAN2: `b4`, `b8`, ...; StyleGAN3: `input`, `L0_36_512`, ...)."""
    return swap_shares(generator, swap_res=swap_res, swap_layer=swap_layer, transition_width=transition_width)


def provenance(
    command: Literal["blend", "interpolate"], model_a: ModelSpec, model_b: ModelSpec, **parameters: object
) -> dict[str, str]:
    """The metadata a mixed model's file records: `made_by`, JSON of the operation, both models (as named) and
    its parameters; pass it to `save_network(..., metadata=...)`."""
    recipe = {"command": command, "model_a": _label(model_a), "model_b": _label(model_b), **parameters}
    return {"made_by": json.dumps(recipe, sort_keys=True)}


def _generator(model: ModelSpec) -> AnyGenerator:
    return model if isinstance(model, Generator | StyleGAN3Generator) else load_any_generator(model, device="cpu")


def _label(model: ModelSpec) -> str:
    return "<in-memory generator>" if isinstance(model, Generator | StyleGAN3Generator) else str(model)
