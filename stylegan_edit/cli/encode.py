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
@click.option("--encoder", "encoder_spec", default="psp", show_default=True, help=ENCODER_HELP)
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
    `apply`. Refine the codes by optimisation with `project --preset encoder-lbfgs`."""
    from tqdm import tqdm

    from stylegan_edit.assets import resolve_network
    from stylegan_edit.cli.handoff import record_latents
    from stylegan_edit.workflow.inversion import encode as run_encoder
    from stylegan_edit.workflow.outputs import save_inversion

    with tqdm(total=len(images), unit="img", desc="encoding", disable=not progress, leave=False) as bar:
        result = run_encoder(
            network_spec,
            list(images),
            encoder=encoder_spec,
            perceptual=perceptual,
            align=align,
            face_index=face_index,
            batch_size=batch_size,
            progress=lambda done, total: bar.update(done - bar.n),
            device=pick_device(device),
        )
    ensure_outdir(outdir)
    saved = save_inversion(result, outdir, sources=images)
    for name, line in zip(saved.names, saved.lines, strict=True):
        click.echo(f"{name}: {line}")
    network = resolve_network(network_spec) if network_spec else result.network
    record = record_latents(saved.combined, command="encode", network=network)
    milliseconds = 1000 * result.seconds / len(result.latents)
    click.echo(f"encoded {len(result.latents)} images with {result.encoder_arch} in {milliseconds:.1f} ms each")
    click.echo(f"latents: {saved.combined} (recorded in {record} for `stylegan-edit apply`)")
