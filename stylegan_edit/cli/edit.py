"""`stylegan-edit apply`: move latents along a direction and render them (one strength, or a sweep grid)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from stylegan_edit.cli.common import IntRanges, Sweep, ensure_outdir, friendly_errors, pick_device


@click.command()
@click.option(
    "--direction",
    "direction_spec",
    required=True,
    help="A direction file, or a name: bundled (see `directions list`) or a file in ./directions.",
)
@click.option(
    "--strength",
    "strengths",
    type=Sweep(),
    required=True,
    help="Edit strength, or a sweep START:STOP:COUNT such as -3:3:7 (writes a grid).",
)
@click.option(
    "--latents",
    "latents_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Latents file (.safetensors or NVIDIA projected_w.npz).  [default: the last `project`/`encode` output, "
    "recorded in ./.stylegan-edit/last-latents.json]",
)
@click.option(
    "--layers",
    type=IntRanges(min_value=0),
    default=None,
    help="Edit only these W+ layers, e.g. 0-5.  [default: the direction's layers, else all]",
)
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    help="Keep this attribute fixed: project its direction (name or file) out; repeatable.",
)
@click.option(
    "--network",
    "network_spec",
    default=None,
    help="Checkpoint or bundled name.  [default: the network recorded with the latents, else synthfaces-64]",
)
@click.option(
    "--outdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/edit"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--noise-mode",
    type=click.Choice(["const", "random", "none"]),
    default="const",
    show_default=True,
    help="Noise inputs when rendering.",
)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
@friendly_errors
def apply(
    direction_spec: str,
    strengths: list[float],
    latents_path: Path | None,
    layers: list[int] | None,
    conditions: tuple[str, ...],
    network_spec: str | None,
    outdir: Path,
    noise_mode: str,
    device: str,
) -> None:
    """Edit latents along a direction; write edited.png (or sweep.png) and edited.safetensors."""
    from stylegan_edit.cli.handoff import HANDOFF_PATH, find_last_latents
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.images import make_grid, save_pil, to_pil
    from stylegan_edit.latents import load_latents
    from stylegan_edit.workflow.editing import render, resolve_direction, sweep

    if latents_path is None:
        handoff = find_last_latents()
        latents_path = handoff.latents_path
        network_spec = network_spec or handoff.network
        click.echo(f"latents: {latents_path} (the last `{handoff.command}`, recorded in {HANDOFF_PATH})")
    latents, _ = load_latents(latents_path)
    generator = load_generator(network_spec, device=pick_device(device))
    direction = resolve_direction(direction_spec, conditions=conditions)  # checked against the generator by sweep
    edited = sweep(latents, direction, strengths, layers=layers, generator=generator)
    ensure_outdir(outdir)
    pictures = to_pil(render(generator, edited, noise_mode=noise_mode))
    metadata = {
        "direction": direction.name,
        "strengths": json.dumps(strengths),
        "layers": json.dumps(layers),
        "conditions": json.dumps(list(conditions)),
        "source": str(latents_path),
        "order": "latent-major: row i * len(strengths) + j is latent i at strength j",
    }
    edited.save(outdir / "edited.safetensors", metadata=metadata)
    if len(strengths) == 1:
        names = ["edited.png"] if len(pictures) == 1 else [f"edited_{i:04d}.png" for i in range(len(pictures))]
        for name, picture in zip(names, pictures, strict=True):
            save_pil(picture, outdir / name)
        click.echo(f"wrote {len(names)} edited image(s) and edited.safetensors to {outdir}")
    else:
        save_pil(make_grid(pictures, ncols=len(strengths)), outdir / "sweep.png")
        click.echo(f"wrote sweep.png ({len(latents)} x {len(strengths)}) and edited.safetensors to {outdir}")
