"""`stylegan-edit project`: invert photos into a generator's W / W+ by a preset's optimisation, and record the
latents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from stylegan_edit.cli.common import ensure_outdir, friendly_errors, pick_device, target_options

if TYPE_CHECKING:
    from tqdm import tqdm

    from stylegan_edit.workflow.inversion import ProjectionEvent

PRESET_NAMES = ("nvidia", "lbfgs", "encoder-lbfgs", "encoder-adam")  # workflow.presets.PRESETS (kept lazy here)
PRESET_HELP = (
    "The optimisation recipe. nvidia: NVIDIA's projector, Adam from the mean W, 1000 steps, lr 0.1, ramp-up 0.05, "
    "ramp-down 0.25, latent noise 0.05. lbfgs: batched L-BFGS from the mean W, 200 steps. encoder-lbfgs: the "
    "--encoder's codes refined by 100 L-BFGS steps. encoder-adam: the --encoder's codes refined by 100 Adam steps, "
    "lr 0.25, ramp-up 0.2, ramp-down 0.05, no latent noise."
)
LOSS_HELP = (
    "auto (LPIPS-VGG when torchvision's weights are cached, else the bundled classifier's features for SynthFaces "
    "models, else the discriminator's; nothing is downloaded), lpips, lpips-alex, lpips-squeeze, classifier, disc, "
    "or pixel-only mse / l1."
)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--network", "network_spec", default=None, help="Checkpoint or bundled name.  [default: synthfaces-64]")
@click.option("--space", type=click.Choice(["w", "w+"]), default="w+", show_default=True, help="Latent space.")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="nvidia", show_default=True, help=PRESET_HELP)
@click.option(
    "--steps",
    "num_steps",
    type=click.IntRange(min=1),
    default=None,
    help="Optimisation steps.  [default: the preset's: 1000 nvidia, 200 lbfgs, 100 encoder-*]",
)
@click.option(
    "--encoder",
    "encoder_spec",
    default="psp",
    show_default=True,
    help="Encoder of the encoder-* presets: psp or e4e (shipped for --network), or an encoder checkpoint.",
)
@click.option(
    "--init-latents",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default="the preset's start",
    help="Start from this latents file (.safetensors / projected_w.npz: one code, or one per image) instead of the "
    "preset's start; the preset's optimiser and schedule still run (encoder-* suit a close start).",
)
@click.option("--loss", default="auto", show_default=True, help=LOSS_HELP)
@click.option(
    "--noise/--no-noise",
    default=False,
    show_default=True,
    help="Also optimise the noise maps (Adam presets only; written to noise.safetensors; edits of the latents "
    "alone do not carry them).",
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
    preset: str,
    num_steps: int | None,
    encoder_spec: str,
    init_latents: Path | None,
    loss: str,
    noise: bool,
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
    from stylegan_edit.assets import resolve_network
    from stylegan_edit.cli.handoff import record_latents
    from stylegan_edit.workflow.inversion import project as run_projection
    from stylegan_edit.workflow.outputs import num_frames, save_inversion

    bar = _ProgressBar(outdir, enabled=progress)
    try:
        result = run_projection(
            network_spec,
            list(images),
            space=space,
            preset=preset,
            num_steps=num_steps,
            encoder=encoder_spec,
            init=init_latents,
            loss=loss,
            noise=noise,
            align=align,
            face_index=face_index,
            batch_size=batch_size,
            seed=seed,
            num_frames=num_frames(strip=strip, video=save_video),
            progress=bar.report,
            device=pick_device(device),
        )
    finally:
        bar.close()
    saved = save_inversion(result, outdir, sources=images, strip=strip, video=save_video)
    for name, line in zip(saved.names, saved.lines, strict=True):
        click.echo(f"{name}: {line}")
    network = resolve_network(network_spec) if network_spec else result.network
    record = record_latents(saved.combined, command="project", network=network)
    click.echo(f"latents: {saved.combined} (recorded in {record} for `stylegan-edit apply`)")


class _ProgressBar:
    """Once every input is checked: the run's first lines (preset and loss) and the output folder; then a tqdm
    bar per batch with the loss."""

    def __init__(self, outdir: Path, *, enabled: bool) -> None:
        self.outdir = outdir
        self.enabled = enabled
        self.bar: tqdm | None = None

    def report(self, event: ProjectionEvent) -> None:
        from tqdm import tqdm

        from stylegan_edit.workflow.inversion import ProjectionStart

        if isinstance(event, ProjectionStart):
            for line in event.lines:
                click.echo(line)
            ensure_outdir(self.outdir)
            return
        if event.step.step == 0:
            self.close()
            first, count, total = event.first, event.count, event.num_images
            label = f"images {first + 1}-{first + count} of {total}" if count > 1 else f"image {first + 1} of {total}"
            self.bar = tqdm(total=event.step.num_steps, desc=label, unit="step", disable=not self.enabled, leave=False)
        assert self.bar is not None
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{float(event.step.losses['total'].mean()):.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
