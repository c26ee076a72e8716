"""`stylegan-edit blend` (layer swapping) and `stylegan-edit interpolate` (weight-space lerp) of two models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from stylegan_edit.cli.common import friendly_errors, output_folder
from stylegan_edit.cli.options import FiniteFloat, PowerOfTwo, ResolutionAlphas, outdir_option

if TYPE_CHECKING:
    from stylegan_edit.generators import AnyGenerator

MODEL_HELP = "MODEL_A and MODEL_B: checkpoints in any supported format (native, NVIDIA .pkl, .pt) or bundled names."
BLENDED = "blended.safetensors"
INTERPOLATED = "interpolated.safetensors"


def _save(out_path: Path, generator: AnyGenerator, metadata: dict[str, str]) -> None:
    from stylegan_edit.formats.native import save_network

    save_network(out_path, generator, metadata=metadata)


@click.command(epilog=MODEL_HELP)
@click.argument("model_a")
@click.argument("model_b")
@click.option(
    "--swap-res",
    type=PowerOfTwo(min=4, max=2048),
    default=None,
    help="Blocks below this resolution come from MODEL_A (structure), blocks at and above it from MODEL_B "
    "(texture, rendering style); StyleGAN3: its layers, by output sampling rate (the Fourier input at the lowest). "
    "4 takes all of B's synthesis; twice the model's resolution keeps all of A.  [default: none; give it or "
    "--swap-layer]",
)
@click.option(
    "--swap-layer",
    type=click.IntRange(min=0),
    default=None,
    help="StyleGAN3, instead of --swap-res: the layers driven by W+ codes below this index come from MODEL_A (the "
    "Fourier input is 0, layer L{i} is i+1), the rest from MODEL_B; 0 takes all of B's synthesis, num_ws keeps "
    "all of A.  [default: none; give it or --swap-res]",
)
@click.option(
    "--transition-width",
    type=FiniteFloat(min=0),
    default=0.0,
    show_default=True,
    help="Ramp the weights linearly over this many resolution levels around --swap-res (layers around "
    "--swap-layer); up to 1: hard switch.",
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
def blend(
    model_a: str,
    model_b: str,
    swap_res: int | None,
    swap_layer: int | None,
    transition_width: float,
    mapping_from: str,
    outdir: Path,
) -> None:
    """Layer swapping: MODEL_A's low-resolution blocks with MODEL_B's high-resolution ones (toonification)."""
    from stylegan_edit.workflow.mixing import blend as blend_models
    from stylegan_edit.workflow.mixing import blend_shares, provenance

    if (swap_res is None) == (swap_layer is None):
        raise click.UsageError("give exactly one of --swap-res and --swap-layer")
    mapping: Literal["a", "b"] = "b" if mapping_from == "b" else "a"
    swap = {"swap_res": swap_res} if swap_res is not None else {"swap_layer": swap_layer}
    with output_folder(outdir):
        blended = blend_models(
            model_a,
            model_b,
            swap_res=swap_res,
            swap_layer=swap_layer,
            transition_width=transition_width,
            mapping_from=mapping,
        )
        parameters = {**swap, "transition_width": transition_width, "mapping_from": mapping}
        _save(outdir / BLENDED, blended, provenance("blend", model_a, model_b, **parameters))
    shares = blend_shares(blended, swap_res=swap_res, swap_layer=swap_layer, transition_width=transition_width)
    described = ", ".join(f"{name}: {share:.2f}" for name, share in shares.items())
    click.echo(f"wrote {outdir / BLENDED} (share of B per part: {described}; mapping from {mapping.upper()})")


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
