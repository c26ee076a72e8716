"""`stylegan-edit encode`: invert photos in one pass with a pSp / e4e encoder, writing what `project` writes."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import ensure_outdir, friendly_errors, pick_device, target_options

ENCODER_HELP = (
    "Encoder: psp or e4e (the one shipped for --network), or an encoder checkpoint from `train-encoder`. "
    "e4e is trained to keep its codes editable (near W), pSp only to reconstruct; on the bundled model pSp "
    "reconstructs 1 dB better alone, and the two alike after refinement (README)."
)
PERCEPTUAL_HELP = (
    "Perceptual distance reported in the metrics (chosen as `project --loss` chooses it): auto (LPIPS-VGG if its "
    "weights are cached, else the bundled classifier's or the discriminator's features), lpips, lpips-alex, "
    "lpips-squeeze or disc."
)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--encoder", "encoder_spec", default="e4e", show_default=True, help=ENCODER_HELP)
@click.option("--network", "network_spec", default=None, help="Checkpoint or bundled name.  [default: synthfaces-64]")
@target_options(Path("out/encode"))
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Images per batch.")
@click.option("--perceptual", default="auto", show_default=True, help=PERCEPTUAL_HELP)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
@friendly_errors
def encode(
    images: tuple[Path, ...],
    encoder_spec: str,
    network_spec: str | None,
    align: bool,
    face_index: int,
    outdir: Path,
    batch_size: int,
    perceptual: str,
    progress: bool,
    device: str,
) -> None:
    """Encode IMAGES into the generator's W+ with a trained encoder; write per-image latents (native and NVIDIA
    projected_w.npz), proj.png, compare.png (target | reconstruction) and metrics, and record the latents for
    `apply`. Refine the codes by optimisation with `project --init encoder`."""
    import time

    import torch
    from tqdm import tqdm

    from stylegan_edit.assets import DEFAULT_NETWORK, resolve_network
    from stylegan_edit.cli.handoff import record_latents
    from stylegan_edit.cli.project_outputs import (
        output_names,
        prepare_targets,
        write_combined,
        write_image_outputs,
    )
    from stylegan_edit.encoders import load_encoder
    from stylegan_edit.formats.native import load_network
    from stylegan_edit.generators.sampling import render
    from stylegan_edit.images import from_pil
    from stylegan_edit.perceptual.choice import choose_loss
    from stylegan_edit.perceptual.reconstruction import reconstruction_metrics

    torch_device = pick_device(device)
    network_path = resolve_network(network_spec)
    network = load_network(network_path, device=torch_device)
    generator = network.generator
    encoder = load_encoder(encoder_spec, network=network_spec, device=torch_device)
    encoder.check_generator(generator, f"the encoder {encoder_spec}")
    pictures = prepare_targets(images, generator.img_resolution, align=align, face_index=face_index)
    metric = choose_loss(perceptual, network).metric
    ensure_outdir(outdir)
    names = output_names(images)
    network_name = network_spec or DEFAULT_NETWORK
    provenance = {"network": network_name, "encoder": encoder_spec, "arch": encoder.arch}
    all_latents = []
    seconds = 0.0
    with tqdm(total=len(pictures), unit="img", desc="encoding", disable=not progress, leave=False) as bar:
        for start in range(0, len(pictures), batch_size):
            targets = torch.cat([from_pil(p) for p in pictures[start : start + batch_size]])
            began = time.perf_counter()
            latents = encoder.encode(targets)
            seconds += time.perf_counter() - began
            reconstruction = render(generator, latents).cpu()
            latents = latents.to("cpu")
            metrics = reconstruction_metrics(reconstruction, targets, metric)
            for i in range(targets.shape[0]):
                k = start + i
                line = write_image_outputs(
                    outdir / names[k],
                    source=images[k],
                    target=targets[i : i + 1],
                    reconstruction=reconstruction[i : i + 1],
                    latents=latents[i],
                    noise=[],
                    metrics={key: float(value[i]) for key, value in metrics.items()},
                    frames={},
                    num_ws=generator.num_ws,
                    provenance=provenance,
                    perceptual_name=metric.name if metric is not None else None,
                )
                click.echo(f"{names[k]}: {line}")
            all_latents.append(latents.tensor)
            bar.update(targets.shape[0])
    combined = write_combined(outdir, all_latents, "w+", names, images, provenance)
    record = record_latents(combined, command="encode", network=network_path if network_spec else network_name)
    click.echo(f"encoded {len(pictures)} images with {encoder.arch} in {1000 * seconds / len(pictures):.1f} ms each")
    click.echo(f"latents: {combined} (recorded in {record} for `stylegan-edit apply`)")
