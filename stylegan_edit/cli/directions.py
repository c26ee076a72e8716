"""`stylegan-edit directions list | fit | show`: the direction library, finding new directions, previewing one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylegan_edit.cli.common import IntRanges, friendly_errors, output_folder, pick_device
from stylegan_edit.cli.options import (
    FiniteFloat,
    device_option,
    latents_option,
    layers_option,
    network_option,
    outdir_option,
    seeds_option,
    strength_option,
)

if TYPE_CHECKING:
    from stylegan_edit.editors.direction import Direction

CLASSIFIER_ATTRIBUTES = ("age", "smile", "eyeglasses", "yaw", "hair_length", "beard", "eyes_open", "toon")
"""The bundled attribute classifier's heads (`AttributeClassifier.names`), listed without importing torch."""
GRID = "direction.png"


@click.group()
def directions() -> None:
    """List, fit and preview latent directions."""


@directions.command(name="list")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("directions"),
    show_default=True,
    help="Also list the direction files in this folder (nothing is listed if it does not exist).",
)
@friendly_errors
def list_directions(folder: Path) -> None:
    """Show the bundled directions and the direction files in a folder."""
    from stylegan_edit.assets import bundled
    from stylegan_edit.editors.direction import load_direction

    shipped = bundled("direction")
    if shipped:
        click.echo("bundled:")
        for path in shipped.values():
            click.echo("  " + _describe(load_direction(path), path.stem))
    else:
        click.echo("no bundled directions in this installation")
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if files:
        click.echo(f"in {folder}:")
    for path in files:
        try:
            click.echo("  " + _describe(load_direction(path), str(path)))
        except ValueError:
            continue  # other safetensors files (latents, networks) may share the folder


def _describe(direction: Direction, label: str) -> str:
    layers = "all layers" if direction.layers is None else f"layers {_ranges(direction.layers)}"
    extra = "".join(f", {k} {v:.3g}" for k, v in direction.statistics.items() if k in ("std", "accuracy"))
    return f"{label}: {direction.method} in {direction.space.value}, {layers}{extra}"


def _ranges(values: tuple[int, ...]) -> str:
    parts, start = [], None
    for i, v in enumerate(values):
        start = v if start is None else start
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(v) if start == v else f"{start}-{v}")
            start = None
    return ",".join(parts)


@directions.command()
@click.option(
    "--method",
    type=click.Choice(["interfacegan", "ganspace", "sefa"]),
    required=True,
    help="How to find directions: interfacegan (an SVM boundary between latents scored high and low on an "
    "attribute), ganspace (principal components of sampled W) or sefa (eigenvectors of the first style layers' "
    "weights, no sampling).",
)
@network_option
@outdir_option(Path("directions"), "one NAME.safetensors per direction (and ganspace_preview.png)")
@click.option(
    "--name",
    default=None,
    help="Direction name (interfacegan, one attribute) or name prefix.  [default: the attribute, pcN or sefaN]",
)
@click.option(
    "--attribute",
    "attributes",
    type=click.Choice(CLASSIFIER_ATTRIBUTES),
    multiple=True,
    help="interfacegan: score this attribute with the bundled classifier; repeatable.  [default: none, then "
    "--scores is needed]",
)
@click.option(
    "--scores",
    "scores_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="interfacegan: scores (.npy or .csv, one row per latent) of the images of --latents.  [default: none, "
    "then --attribute is needed]",
)
@latents_option(default_text="none", what="interfacegan: the Z or W latents the --scores belong to")
@click.option(
    "--space",
    type=click.Choice(["z", "w"]),
    default="w",
    show_default=True,
    help="interfacegan: the space samples are drawn and separated in.",
)
@click.option(
    "--extreme-fraction",
    type=FiniteFloat(min=0, max=0.5, min_open=True),
    default=0.02,
    show_default=True,
    help="interfacegan: share of samples kept at each extreme of the scores, in (0, 0.5].",
)
@click.option(
    "--num-samples",
    type=click.IntRange(min=2),
    default=10_000,
    show_default=True,
    help="Samples to draw (ganspace, interfacegan --attribute).",
)
@click.option(
    "--components",
    type=click.IntRange(min=1),
    default=None,
    help="ganspace/sefa: number of directions.  [default: 10 ganspace, 5 sefa]",
)
@click.option(
    "--layers",
    type=IntRanges(min_value=0),
    default=None,
    help="ganspace: W+ layers the directions edit; sefa: W+ layers to factorise and edit.  [default: all]",
)
@click.option(
    "--include-torgb/--no-include-torgb",
    default=False,
    show_default=True,
    help="sefa: also factorise the toRGB layers' style weights.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the sampled latents.")
@device_option
@friendly_errors
def fit(
    method: str,
    network_spec: str | None,
    outdir: Path,
    name: str | None,
    attributes: tuple[str, ...],
    scores_path: Path | None,
    latents_path: Path | None,
    space: str,
    extreme_fraction: float,
    num_samples: int,
    components: int | None,
    layers: list[int] | None,
    include_torgb: bool,
    seed: int,
    device: str,
) -> None:
    """Find directions with InterFaceGAN, GANSpace or SeFa and write one file per direction."""
    if method != "interfacegan" and (attributes or scores_path or latents_path):
        raise click.UsageError("--attribute, --scores and --latents apply to --method interfacegan only")
    if method == "interfacegan" and bool(attributes) == bool(scores_path):
        raise click.UsageError("interfacegan needs either --attribute NAME or --scores FILE with --latents FILE")
    if scores_path is not None and latents_path is None:
        raise click.UsageError("--scores needs --latents: the latents whose images were scored")
    with output_folder(outdir):
        _fit(
            generator_spec=network_spec,
            device=device,
            outdir=outdir,
            method=method,
            name=name,
            attributes=attributes,
            scores=scores_path,
            latents=latents_path,
            space=space,
            extreme_fraction=extreme_fraction,
            num_samples=num_samples,
            components=components,
            layers=layers,
            include_torgb=include_torgb,
            seed=seed,
        )


def _fit(*, generator_spec: str | None, device: str, outdir: Path, method: str, seed: int, **options: Any) -> None:
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.images import save_pil
    from stylegan_edit.workflow.directions import components_preview, fit_direction

    generator = load_generator(generator_spec, device=pick_device(device))
    found = fit_direction(generator, method, seed=seed, **options)
    for direction in found:
        direction.save(outdir / f"{direction.name}.safetensors")
        click.echo(f"wrote {outdir / (direction.name + '.safetensors')}  ({_describe(direction, direction.name)})")
    if method == "ganspace":
        save_pil(components_preview(generator, found, seed=seed), outdir / "ganspace_preview.png")
        click.echo(f"wrote {outdir / 'ganspace_preview.png'} (rows: components, columns: -2..2 std)")


@directions.command()
@click.argument("direction_spec", metavar="NAME|FILE")
@network_option
@seeds_option("0-3", "one row per seed")
@strength_option(default="-3:3:7", help="Columns: the strengths START:STOP:COUNT (or one strength).")
@layers_option
@outdir_option(Path("out"), f"the grid, {GRID}")
@device_option
@friendly_errors
def show(
    direction_spec: str,
    network_spec: str | None,
    seeds: list[int],
    strengths: list[float],
    layers: list[int] | None,
    outdir: Path,
    device: str,
) -> None:
    """Write a strength-sweep grid of a direction (rows: seeds, columns: strengths)."""
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.images import save_pil
    from stylegan_edit.workflow.editing import resolve_direction, sweep_grid

    with output_folder(outdir):
        generator = load_generator(network_spec, device=pick_device(device))
        direction = resolve_direction(direction_spec)  # checked against the generator by sweep_grid
        save_pil(sweep_grid(generator, seeds, direction, strengths, layers=layers), outdir / GRID)
    click.echo(f"wrote {outdir / GRID} ({len(seeds)} seeds x {len(strengths)} strengths of {direction.name!r})")
