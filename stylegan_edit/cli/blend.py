"""`stylegan-edit blend` (layer swapping) and `stylegan-edit interpolate` (weight-space lerp) of two models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from stylegan_edit.cli.common import friendly_errors

if TYPE_CHECKING:
    from stylegan_edit.generators import Generator

MODEL_HELP = "MODEL_A and MODEL_B: checkpoints in any supported format (native, NVIDIA .pkl, .pt) or bundled names."


class ResolutionAlphas(click.ParamType):
    """`16=0.2` or `4-16=0.2` (a range of resolutions sharing one alpha)."""

    name = "res=alpha"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[int, float]:
        if isinstance(value, dict):
            return value
        match = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*=\s*([-+0-9.eE]+)\s*", str(value))
        if not match:
            self.fail(f"cannot parse {value!r}: use RES=ALPHA or LOW-HIGH=ALPHA, e.g. 4-16=0.2", param, ctx)
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        try:
            alpha = float(match.group(3))
        except ValueError:
            self.fail(f"cannot parse alpha in {value!r}", param, ctx)
        resolutions = [2**k for k in range(2, 11) if low <= 2**k <= high]
        if not resolutions:
            self.fail(f"{value!r} names no power-of-two resolution from 4 to 1024", param, ctx)
        return dict.fromkeys(resolutions, alpha)


def _save(out_path: Path, generator: Generator, metadata: dict[str, str]) -> None:
    from stylegan_edit.formats.native import save_network

    save_network(out_path, generator, metadata=metadata)


@click.command(epilog=MODEL_HELP)
@click.argument("model_a")
@click.argument("model_b")
@click.option(
    "--swap-res",
    type=int,
    required=True,
    help="Blocks below this resolution come from MODEL_A (structure), blocks at and above it from MODEL_B "
    "(texture, rendering style). 4 takes all of B's synthesis; twice the model's resolution keeps all of A.",
)
@click.option(
    "--transition-width",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Ramp the weights linearly over this many resolution levels around --swap-res (up to 1: hard switch).",
)
@click.option(
    "--mapping-from",
    type=click.Choice(["a", "b"]),
    default="a",
    show_default=True,
    help="Which model's mapping network (and w_avg) the blend uses.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("out/blended.safetensors"),
    show_default=True,
    help="Native checkpoint to write.",
)
@friendly_errors
def blend(
    model_a: str, model_b: str, swap_res: int, transition_width: float, mapping_from: str, out_path: Path
) -> None:
    """Layer swapping: MODEL_A's low-resolution blocks with MODEL_B's high-resolution ones (toonification)."""
    from stylegan_edit.workflow.mixing import blend as blend_models
    from stylegan_edit.workflow.mixing import blend_shares, provenance

    mapping: Literal["a", "b"] = "b" if mapping_from == "b" else "a"
    blended = blend_models(model_a, model_b, swap_res=swap_res, transition_width=transition_width, mapping_from=mapping)
    parameters = {"swap_res": swap_res, "transition_width": transition_width, "mapping_from": mapping}
    _save(out_path, blended, provenance("blend", model_a, model_b, **parameters))
    shares = blend_shares(blended.img_resolution, swap_res, transition_width)
    described = ", ".join(f"{res}: {share:.2f}" for res, share in shares.items())
    click.echo(f"wrote {out_path} (share of B per block: {described}; mapping from {mapping.upper()})")


@click.command(epilog=MODEL_HELP)
@click.argument("model_a")
@click.argument("model_b")
@click.option(
    "--alpha",
    type=float,
    default=0.5,
    show_default=True,
    help="Weight of MODEL_B: 0 gives A, 1 gives B (values outside extrapolate).",
)
@click.option(
    "--res-alpha",
    "res_alphas",
    type=ResolutionAlphas(),
    multiple=True,
    help="Per-resolution alpha overriding --alpha for those synthesis blocks, e.g. 4-16=0 --res-alpha 64=1.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("out/interpolated.safetensors"),
    show_default=True,
    help="Native checkpoint to write.",
)
@friendly_errors
def interpolate(
    model_a: str, model_b: str, alpha: float, res_alphas: tuple[dict[int, float], ...], out_path: Path
) -> None:
    """Weight-space interpolation of two models of one architecture."""
    from stylegan_edit.workflow.mixing import interpolate as interpolate_models
    from stylegan_edit.workflow.mixing import provenance

    per_resolution: dict[int, float] = {}
    for entry in res_alphas:
        per_resolution.update(entry)
    mixed = interpolate_models(model_a, model_b, alpha=alpha, resolution_alphas=per_resolution)
    _save(out_path, mixed, provenance("interpolate", model_a, model_b, alpha=alpha, res_alphas=per_resolution))
    click.echo(f"wrote {out_path}")
