"""`stylegan-edit project`: invert photos into a generator's W / W+ by optimisation, and record the latents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from stylegan_edit.cli.common import ensure_outdir, friendly_errors, pick_device, target_options

if TYPE_CHECKING:
    from tqdm import tqdm

LOSS_HELP = (
    "auto (LPIPS-VGG when torchvision's weights are cached, else the bundled classifier's features for SynthFaces "
    "models, else the discriminator's; nothing is downloaded), lpips, lpips-alex, lpips-squeeze, classifier, disc, "
    "or pixel-only mse / l1."
)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--network", "network_spec", default=None, help="Checkpoint or bundled name.  [default: synthfaces-64]")
@click.option("--space", type=click.Choice(["w", "w+"]), default="w+", show_default=True, help="Latent space.")
@click.option("--steps", "num_steps", type=click.IntRange(min=1), default=1000, show_default=True, help="Steps.")
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Peak lr (Adam).  [default: 0.1 from the mean W (NVIDIA's); 0.25 from an encoder or a latents file]",
)
@click.option(
    "--lr-rampup",
    type=click.FloatRange(min=0, max=1),
    default=None,
    help="Linear lr ramp-up (Adam), as a fraction of the steps.  [default: 0.05 from the mean W; 0.2 from an encoder "
    "or a latents file, whose good start Adam's first full-size steps would throw away]",
)
@click.option(
    "--lr-rampdown",
    type=click.FloatRange(min=0, max=1),
    default=None,
    help="Cosine lr ramp-down (Adam), as a fraction of the steps.  [default: 0.25 from the mean W; 0.05 from an "
    "encoder or a latents file]",
)
@click.option(
    "--latent-noise",
    type=click.FloatRange(min=0),
    default=None,
    help="Initial latent noise (Adam; times the W std), ramped to 0; `--lr 0.3 --latent-noise 0 --steps 500` is a "
    "faster schedule (README).  [default: 0.05 from the mean W (NVIDIA's); 0 from an encoder or a latents file, "
    "whose good start noise would only shake]",
)
@click.option(
    "--noise/--no-noise",
    default=False,
    show_default=True,
    help="Also optimise the noise maps (written to noise.safetensors; edits of the latents alone do not carry them).",
)
@click.option(
    "--optimizer",
    type=click.Choice(["adam", "lbfgs"]),
    default=None,
    help="adam (the lr schedule and latent noise above) or lbfgs (a batched L-BFGS over the latents: no lr, no "
    "latent noise, no --noise; from an encoder 100 steps get 0.5 dB further than Adam's, README).  [default: "
    "adam from the mean W or with --noise; lbfgs from an encoder or a latents file]",
)
@click.option("--loss", default="auto", show_default=True, help=LOSS_HELP)
@click.option(
    "--init",
    "init_spec",
    default="mean",
    show_default=True,
    help="Starting point: mean (NVIDIA's mean W), encoder (--encoder's codes, refined: 100 L-BFGS steps come within "
    "0.1 dB of 1000 NVIDIA steps from the mean on SynthFaces, README), or a latents file (.safetensors / "
    "projected_w.npz).",
)
@click.option(
    "--encoder",
    "encoder_spec",
    default="psp",
    show_default=True,
    help="Encoder for --init encoder: psp or e4e (shipped for --network), or an encoder checkpoint.",
)
@target_options(Path("out/project"))
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True, help="Images per batch.")
@click.option("--seed", type=int, default=303, show_default=True, help="Seed (image k uses seed + k).")
@click.option("--strip/--no-strip", default=False, show_default=True, help="Write strip.png: 8 steps of progress.")
@click.option(
    "--save-video/--no-save-video", default=False, show_default=True, help="Write the optimisation as proj.gif."
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
@friendly_errors
def project(
    images: tuple[Path, ...],
    network_spec: str | None,
    space: str,
    num_steps: int,
    lr: float | None,
    lr_rampup: float | None,
    lr_rampdown: float | None,
    latent_noise: float | None,
    noise: bool,
    optimizer: str | None,
    loss: str,
    init_spec: str,
    encoder_spec: str,
    align: bool,
    face_index: int,
    outdir: Path,
    batch_size: int,
    seed: int,
    strip: bool,
    save_video: bool,
    progress: bool,
    device: str,
) -> None:
    """Project IMAGES onto the generator; write per-image latents (native and NVIDIA projected_w.npz),
    proj.png, compare.png (target | reconstruction) and metrics, and record the latents for `apply`."""
    from dataclasses import asdict, replace

    import torch

    from stylegan_edit.assets import DEFAULT_NETWORK, resolve_network
    from stylegan_edit.cli.handoff import record_latents
    from stylegan_edit.cli.project_outputs import (
        Frames,
        output_names,
        prepare_targets,
        resolve_init,
        write_combined,
        write_image_outputs,
    )
    from stylegan_edit.formats.native import load_network
    from stylegan_edit.generators.sampling import render
    from stylegan_edit.images import from_pil
    from stylegan_edit.invert.projector import ProjectionStep, Projector
    from stylegan_edit.invert.schedule import NVIDIA, REFINE
    from stylegan_edit.latents import Latents
    from stylegan_edit.perceptual.choice import choose_loss
    from stylegan_edit.perceptual.reconstruction import reconstruction_metrics

    network_path = resolve_network(network_spec)
    network = load_network(network_path, device=pick_device(device))
    generator = network.generator
    pictures = prepare_targets(images, generator.img_resolution, align=align, face_index=face_index)
    init = resolve_init(init_spec, generator, space, len(pictures), encoder=encoder_spec, network=network_spec)
    losses = choose_loss(loss, network)
    options = {"lr": lr, "lr_rampup": lr_rampup, "lr_rampdown": lr_rampdown, "latent_noise": latent_noise}
    given = {k: v for k, v in options.items() if v is not None}
    optimizer = optimizer or ("adam" if init_spec == "mean" or noise else "lbfgs")
    if optimizer == "lbfgs" and (given or noise):
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in given) or "--noise"
        raise click.UsageError(f"{flags} only apply to --optimizer adam (L-BFGS optimises the latents, no lr)")
    schedule = replace(NVIDIA if init_spec == "mean" else REFINE, **given)
    if optimizer == "lbfgs":
        schedule = replace(schedule, latent_noise=0.0)
    projector = Projector(
        space=space,
        num_steps=num_steps,
        **asdict(schedule),
        optimize_noise=noise,
        perceptual=losses.perceptual,
        perceptual_weight=losses.perceptual_weight,
        mse_weight=losses.mse_weight,
        l1_weight=losses.l1_weight,
        seed=seed,
        optimizer=optimizer,
    )
    ensure_outdir(outdir)
    names = output_names(images)
    network_name = network_spec or DEFAULT_NETWORK
    perceptual_name = losses.metric.name if losses.metric is not None else None
    all_latents = []
    for start in range(0, len(pictures), batch_size):
        targets = torch.cat([from_pil(p) for p in pictures[start : start + batch_size]])
        count = targets.shape[0]
        batch_init = init[start : start + count] if isinstance(init, Latents) and len(init) > 1 else init
        frames = Frames(num_steps, strip=strip, video=save_video)
        last: ProjectionStep | None = None
        with _progress_bar(num_steps, start, count, len(pictures), enabled=progress) as bar:
            for last in projector.steps(generator, targets, batch_init, seed_offset=start):
                frames.collect(generator, last)
                bar.update(1)
                bar.set_postfix(loss=f"{float(last.losses['total'].mean()):.4g}")
        assert last is not None
        reconstruction = render(generator, last.latents, last.noise)
        metrics = reconstruction_metrics(reconstruction, targets.to(reconstruction.device), losses.metric)
        reconstruction = reconstruction.cpu()
        for i in range(count):
            k = start + i
            provenance = {
                "network": network_name,
                "loss": projector.loss,
                "steps": str(num_steps),
                "schedule": (
                    ", ".join(f"{key} {value:g}" for key, value in asdict(schedule).items())
                    if optimizer == "adam"
                    else "lbfgs"
                ),
                "seed": str(seed + k),
            }
            line = write_image_outputs(
                outdir / names[k],
                source=images[k],
                target=targets[i : i + 1],
                reconstruction=reconstruction[i : i + 1],
                latents=last.latents[i],
                noise=[n[i : i + 1] for n in last.noise],
                metrics={key: float(value[i]) for key, value in metrics.items()},
                frames=frames.for_image(i),
                num_ws=generator.num_ws,
                provenance=provenance,
                perceptual_name=perceptual_name,
            )
            click.echo(f"{names[k]}: {line}")
        all_latents.append(last.latents.tensor.cpu())
    provenance = {"network": network_name, "loss": projector.loss}
    combined = write_combined(outdir, all_latents, space, names, images, provenance)
    record = record_latents(combined, command="project", network=network_path if network_spec else network_name)
    click.echo(f"latents: {combined} (recorded in {record} for `stylegan-edit apply`)")


def _progress_bar(num_steps: int, start: int, size: int, total: int, *, enabled: bool) -> tqdm:
    from tqdm import tqdm

    label = f"images {start + 1}-{start + size} of {total}" if size > 1 else f"image {start + 1} of {total}"
    return tqdm(total=num_steps, desc=label, unit="step", disable=not enabled, leave=False)
