"""`stylegan-edit apply`: move latents along a direction and render them (one strength, or a sweep grid)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors, output_folder, pick_device
from stylegan_edit.cli.options import (
    device_option,
    latents_option,
    layers_option,
    network_option,
    noise_mode_option,
    outdir_option,
    strength_option,
)

DIRECTION_HELP = (
    "The direction: a bundled name (see `stylegan-edit directions list`), a direction file (.safetensors, an "
    "InterFaceGAN .npy boundary, an e4e .pt direction), FILE#K for component K of e4e's GANSpace ffhq_pca.pt or a "
    "GANSpace .npz, or the name of a file in ./directions."
)


@click.command()
@click.option("--direction", "direction_spec", required=True, metavar="NAME|FILE[#K]", help=DIRECTION_HELP)
@strength_option(
    default=None,
    help="Edit strength, or a sweep START:STOP:COUNT such as -3:3:7 (writes sweep.png, a grid). For a GANSpace "
    ".npz it counts standard deviations of the component; for e4e's ffhq_pca.pt it is the coordinate to set.",
)
@latents_option(default_text="the latents the last `project` or `encode` here recorded in ./.stylegan-edit")
@layers_option
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    metavar="NAME|FILE",
    help="Keep this attribute fixed: project its direction (name or file) out of the edit; repeatable.  "
    "[default: none]",
)
@network_option(
    default_text="the generator tuned around the latents (project / encode --tune), else the network recorded with "
    "them, else synthfaces-64"
)
@outdir_option(Path("out/edit"), "edited.safetensors and edited.png (edited_NNNN.png per latent, or sweep.png)")
@noise_mode_option
@device_option
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
    from stylegan_edit.formats.tuned import load_any_generator
    from stylegan_edit.images import make_grid, save_pil, to_pil
    from stylegan_edit.latents import load_latents
    from stylegan_edit.workflow.editing import render, resolve_direction, sweep
    from stylegan_edit.workflow.outputs import TUNED_KEY

    handoff_network: str | Path | None = None
    if latents_path is None:
        handoff = find_last_latents()
        latents_path = handoff.latents_path
        handoff_network = handoff.tuned_network or handoff.network
        click.echo(f"latents: {latents_path} (the last `{handoff.command}`, recorded in {HANDOFF_PATH})")
    with output_folder(outdir):
        latents, latents_metadata = load_latents(latents_path)
        tuned = latents_metadata.get(TUNED_KEY)
        if network_spec is None and tuned is not None:
            if not Path(tuned).is_file():
                raise click.ClickException(
                    f"{latents_path} was tuned into {tuned}, which no longer exists; pass --network"
                )
            click.echo(f"network: {tuned} (the generator tuned around these latents)")
        generator = load_any_generator(network_spec or tuned or handoff_network, device=pick_device(device))
        direction = resolve_direction(direction_spec, conditions=conditions, generator=generator)
        edited = sweep(latents, direction, strengths, layers=layers, generator=generator)
        pictures = to_pil(render(generator, edited, noise_mode=noise_mode))
        metadata = {
            "direction": direction.name,
            "strengths": json.dumps(strengths),
            "layers": json.dumps(layers),
            "conditions": json.dumps(list(conditions)),
            "source": str(latents_path),
            "order": "latent-major: row i * len(strengths) + j is latent i at strength j",
        }
        if network_spec is None and tuned is not None:
            metadata[TUNED_KEY] = tuned  # edits of the edits render with the same tuned generator
        edited.save(outdir / "edited.safetensors", metadata=metadata)
        if len(strengths) == 1:
            names = ["edited.png"] if len(pictures) == 1 else [f"edited_{i:04d}.png" for i in range(len(pictures))]
            for name, picture in zip(names, pictures, strict=True):
                save_pil(picture, outdir / name)
            click.echo(f"wrote {len(names)} edited image(s) and edited.safetensors to {outdir}")
        else:
            save_pil(make_grid(pictures, ncols=len(strengths)), outdir / "sweep.png")
            click.echo(f"wrote sweep.png ({len(latents)} x {len(strengths)}) and edited.safetensors to {outdir}")
