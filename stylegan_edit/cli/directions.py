"""`stylegan-edit directions list | fit | show`: the direction library, finding new directions, previewing one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from stylegan_edit.cli.common import IntRanges, Sweep, ensure_outdir, friendly_errors, pick_device

if TYPE_CHECKING:
    from stylegan_edit.editors.direction import Direction

NETWORK_HELP = "Checkpoint (any supported format) or bundled name.  [default: synthfaces-64]"


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
    help="Also list the direction files in this folder.",
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
    "--method", type=click.Choice(["interfacegan", "ganspace", "sefa"]), required=True, help="How to find them."
)
@click.option("--network", "network_spec", default=None, help=NETWORK_HELP)
@click.option(
    "--outdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("directions"),
    show_default=True,
    help="Folder for the direction files.",
)
@click.option("--name", default=None, help="Direction name (interfacegan) or name prefix.  [default: per method]")
@click.option("--attribute", "attributes", multiple=True, help="interfacegan: a bundled classifier's attribute.")
@click.option(
    "--scores",
    "scores_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="interfacegan: scores (.npy or .csv, one row per latent) of the images of --latents.",
)
@click.option(
    "--latents",
    "latents_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="interfacegan: the z or w latents the --scores belong to.",
)
@click.option(
    "--space", type=click.Choice(["z", "w"]), default="w", show_default=True, help="interfacegan: sampling space."
)
@click.option(
    "--extreme-fraction",
    type=click.FloatRange(0, 0.5, min_open=True),
    default=0.02,
    show_default=True,
    help="interfacegan: share of samples kept at each extreme.",
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
    help="ganspace: W+ layers to edit; sefa: W+ layers to factorise and edit.  [default: all]",
)
@click.option("--include-torgb/--no-include-torgb", default=False, show_default=True, help="sefa: use torgb too.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Sampling seed.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
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
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.images import save_pil
    from stylegan_edit.workflow.directions import components_preview, fit_direction

    if method != "interfacegan" and (attributes or scores_path or latents_path):
        raise click.UsageError("--attribute, --scores and --latents apply to --method interfacegan only")
    if method == "interfacegan" and bool(attributes) == bool(scores_path):
        raise click.UsageError("interfacegan needs either --attribute NAME or --scores FILE with --latents FILE")
    if scores_path is not None and latents_path is None:
        raise click.UsageError("--scores needs --latents: the latents whose images were scored")
    generator = load_generator(network_spec, device=pick_device(device))
    found = fit_direction(
        generator,
        method,
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
    ensure_outdir(outdir)
    for direction in found:
        direction.save(outdir / f"{direction.name}.safetensors")
        click.echo(f"wrote {outdir / (direction.name + '.safetensors')}  ({_describe(direction, direction.name)})")
    if method == "ganspace":
        save_pil(components_preview(generator, found, seed=seed), outdir / "ganspace_preview.png")
        click.echo(f"wrote {outdir / 'ganspace_preview.png'} (rows: components, columns: -2..2 std)")


@directions.command()
@click.argument("direction_spec", metavar="NAME|FILE")
@click.option("--network", "network_spec", default=None, help=NETWORK_HELP)
@click.option("--seeds", type=IntRanges(min_value=0), default="0-3", show_default=True, help="Rows: seeds to edit.")
@click.option(
    "--strength",
    "strengths",
    type=Sweep(),
    default="-3:3:7",
    show_default=True,
    help="Columns: strengths START:STOP:COUNT (W units).",
)
@click.option(
    "--layers",
    type=IntRanges(min_value=0),
    default=None,
    help="Edit only these W+ layers.  [default: the direction's layers, else all]",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("out/direction.png"),
    show_default=True,
    help="Grid PNG to write.",
)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
@friendly_errors
def show(
    direction_spec: str,
    network_spec: str | None,
    seeds: list[int],
    strengths: list[float],
    layers: list[int] | None,
    out_path: Path,
    device: str,
) -> None:
    """Write a strength-sweep grid of a direction (rows: seeds, columns: strengths)."""
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.images import save_pil
    from stylegan_edit.workflow.editing import resolve_direction, sweep_grid

    generator = load_generator(network_spec, device=pick_device(device))
    direction = resolve_direction(direction_spec)  # checked against the generator by sweep_grid
    save_pil(sweep_grid(generator, seeds, direction, strengths, layers=layers), out_path)
    click.echo(f"wrote {out_path} ({len(seeds)} seeds x {len(strengths)} strengths of {direction.name!r})")
