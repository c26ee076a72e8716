"""`stylegan-edit blend` (layer swapping) and `stylegan-edit interpolate` (weight-space lerp) of two models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from stylegan_edit.cli.common import friendly_errors, output_folder
from stylegan_edit.cli.options import FiniteFloat, PowerOfTwo, ResolutionAlphas, outdir_option

if TYPE_CHECKING:
    from stylegan_edit.generators import Generator

MODEL_HELP = "MODEL_A and MODEL_B: checkpoints in any supported format (native, NVIDIA .pkl, .pt) or bundled names."
BLENDED = "blended.safetensors"
INTERPOLATED = "interpolated.safetensors"


def _save(out_path: Path, generator: Generator, metadata: dict[str, str]) -> None:
    from stylegan_edit.formats.native import save_network

    save_network(out_path, generator, metadata=metadata)


@click.command(epilog=MODEL_HELP)
@click.argument("model_a")
@click.argument("model_b")
@click.option(
    "--swap-res",
    type=PowerOfTwo(min=4, max=2048),
    required=True,
    help="Blocks below this resolution come from MODEL_A (structure), blocks at and above it from MODEL_B "
    "(texture, rendering style). 4 takes all of B's synthesis; twice the model's resolution keeps all of A.",
)
@click.option(
    "--transition-width",
    type=FiniteFloat(min=0),
    default=0.0,
    show_default=True,
    help="Ramp the weights linearly over this many resolution levels around --swap-res (up to 1: hard switch).",
)
@click.option(
    "--mapping-from",
    type=click.Choice(["a", "b"]),
    default="a",
    show_default=True,
    help="Which model's mapping network (and mean W) the blend uses.",
)
@outdir_option(Path("out"), f"the blended network, {BLENDED} (a native checkpoint)")
@friendly_errors
def blend(model_a: str, model_b: str, swap_res: int, transition_width: float, mapping_from: str, outdir: Path) -> None:
    """Layer swapping: MODEL_A's low-resolution blocks with MODEL_B's high-resolution ones (toonification)."""
    from stylegan_edit.workflow.mixing import blend as blend_models
    from stylegan_edit.workflow.mixing import blend_shares, provenance

    mapping: Literal["a", "b"] = "b" if mapping_from == "b" else "a"
    with output_folder(outdir):
        blended = blend_models(
            model_a, model_b, swap_res=swap_res, transition_width=transition_width, mapping_from=mapping
        )
        parameters = {"swap_res": swap_res, "transition_width": transition_width, "mapping_from": mapping}
        _save(outdir / BLENDED, blended, provenance("blend", model_a, model_b, **parameters))
    shares = blend_shares(blended.img_resolution, swap_res, transition_width)
    described = ", ".join(f"{res}: {share:.2f}" for res, share in shares.items())
    click.echo(f"wrote {outdir / BLENDED} (share of B per block: {described}; mapping from {mapping.upper()})")


@click.command(epilog=MODEL_HELP)
@click.argument("model_a")
@click.argument("model_b")
@click.option(
    "--alpha",
    type=FiniteFloat(sensible=(-1, 2)),
    default=0.5,
    show_default=True,
    help="Weight of MODEL_B: 0 gives A, 1 gives B; values outside [0, 1] extrapolate (outside [-1, 2] with a warning).",
)
@click.option(
    "--res-alpha",
    "res_alphas",
    type=ResolutionAlphas(),
    multiple=True,
    help="Per-resolution alpha overriding --alpha for those synthesis blocks, e.g. 4-16=0 --res-alpha 64=1; "
    "repeatable.  [default: --alpha everywhere]",
)
@outdir_option(Path("out"), f"the interpolated network, {INTERPOLATED} (a native checkpoint)")
@friendly_errors
def interpolate(
    model_a: str, model_b: str, alpha: float, res_alphas: tuple[dict[int, float], ...], outdir: Path
) -> None:
    """Weight-space interpolation of two models of one architecture."""
    from stylegan_edit.workflow.mixing import interpolate as interpolate_models
    from stylegan_edit.workflow.mixing import provenance

    per_resolution: dict[int, float] = {}
    for entry in res_alphas:
        per_resolution.update(entry)
    with output_folder(outdir):
        mixed = interpolate_models(model_a, model_b, alpha=alpha, resolution_alphas=per_resolution)
        metadata = provenance("interpolate", model_a, model_b, alpha=alpha, res_alphas=per_resolution)
        _save(outdir / INTERPOLATED, mixed, metadata)
    click.echo(f"wrote {outdir / INTERPOLATED}")
