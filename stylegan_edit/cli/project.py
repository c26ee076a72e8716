"""`stylegan-edit project`: invert photos into a generator's W / W+ by a preset's optimisation, and record the
latents."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from stylegan_edit.cli.common import friendly_errors, output_folder, pick_device
from stylegan_edit.cli.inputs import check_handoff_writable, photo_folder, photo_options, run_folder
from stylegan_edit.cli.options import (
    device_option,
    encoder_option,
    network_option,
    outdir_option,
    progress_option,
    resume_folder_option,
)
from stylegan_edit.cli.tuning import TuningBar, check_tune_options, tune_options, tuning_lines

if TYPE_CHECKING:
    from tqdm import tqdm

    from stylegan_edit.workflow.inversion import ProjectionEvent

PRESET_NAMES = ("nvidia", "lbfgs", "encoder-lbfgs", "encoder-adam")  # workflow.presets.PRESETS (kept lazy here)
LOSS_NAMES = ("auto", "mse", "l1", "lpips", "lpips-vgg", "lpips-alex", "lpips-squeeze", "disc", "classifier")
PRESET_HELP = (
    "The optimisation recipe. nvidia: NVIDIA's projector, Adam from the mean W, 1000 steps, lr 0.1, ramp-up 0.05, "
    "ramp-down 0.25, latent noise 0.05. lbfgs: batched L-BFGS from the mean W, 200 steps. encoder-lbfgs: the "
    "--encoder's codes refined by 100 L-BFGS steps. encoder-adam: the --encoder's codes refined by 100 Adam steps, "
    "lr 0.25, ramp-up 0.2, ramp-down 0.05, no latent noise."
)
LOSS_HELP = (
    "What the optimisation minimises. auto: LPIPS-VGG when torchvision's weights are cached, else the bundled "
    "classifier's features for SynthFaces models, else the discriminator's (nothing is downloaded); lpips / "
    "lpips-vgg, lpips-alex, lpips-squeeze: that LPIPS network; classifier, disc: those networks' features; mse, "
    "l1: pixel differences only."
)


@click.command()
@photo_options
@network_option
@click.option(
    "--space",
    type=click.Choice(["w", "w+"]),
    default="w+",
    show_default=True,
    help="Latent space: w (one code shared by every layer) or w+ (one code per layer: closer fits, less editable).",
)
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="nvidia", show_default=True, help=PRESET_HELP)
@click.option(
    "--steps",
    "num_steps",
    type=click.IntRange(min=1),
    default=None,
    help="Optimisation steps.  [default: the preset's: 1000 nvidia, 200 lbfgs, 100 encoder-*]",
)
@encoder_option
@click.option(
    "--init-latents",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Start from this latents file (.safetensors / projected_w.npz: one code, or one per image) instead of the "
    "preset's start; the preset's optimiser and schedule still run (encoder-* suit a close start).  "
    "[default: the preset's start]",
)
@click.option("--loss", type=click.Choice(LOSS_NAMES), default="auto", show_default=True, help=LOSS_HELP)
@click.option(
    "--noise/--no-noise",
    default=False,
    show_default=True,
    help="Also optimise the noise maps (Adam presets only; written to noise.safetensors; edits of the latents "
    "alone do not carry them).",
)
@outdir_option(Path("out/project"), "one sub-folder per image and projected.safetensors with all latents")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True, help="Images per batch.")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=303,
    show_default=True,
    help="Seed of the latent noise (image k uses seed + k).",
)
@click.option("--strip/--no-strip", default=False, show_default=True, help="Write strip.png: 8 steps of progress.")
@click.option(
    "--save-video/--no-save-video", default=False, show_default=True, help="Write the optimisation as proj.gif."
)
@tune_options
@resume_folder_option
@progress_option
@device_option
@friendly_errors
def project(
    images: tuple[Path, ...],
    align: bool | None,
    face_index: int,
    network_spec: str | None,
    space: str,
    preset: str,
    num_steps: int | None,
    encoder_spec: str,
    init_latents: Path | None,
    loss: str,
    noise: bool,
    outdir: Path,
    batch_size: int,
    seed: int,
    strip: bool,
    save_video: bool,
    tune: bool,
    tune_steps: int,
    tune_lr: float,
    tune_full: bool,
    resume: bool,
    progress: bool,
    device: str,
) -> None:
    """Project IMAGES onto the generator; write per-image latents (native and NVIDIA projected_w.npz),
    proj.png, compare.png (target | reconstruction) and metrics, and record the latents for `apply`. --tune then
    tunes the generator around the codes (PTI: use --space w for the paper's pivots) and writes it beside them.

    IMAGES may be one FOLDER: its images (recursively, in sorted order; results in --outdir mirror its sub-folders)
    are projected --batch-size at a time, each written when its batch is done, and image k of the sorted listing
    uses seed + k; see --resume. Under `torchrun --nproc_per_node N -m stylegan_edit.cli project FOLDER ...` the
    N processes share the batches (one GPU each on CUDA). A folder run prints a summary instead of a line per
    image and takes no --tune."""
    from stylegan_edit.assets import resolve_network
    from stylegan_edit.cli.handoff import record_latents
    from stylegan_edit.workflow.inversion import project as run_projection
    from stylegan_edit.workflow.outputs import num_frames, save_inversion

    check_tune_options(tune)
    folder = photo_folder(images)
    if folder is not None:
        if tune:
            raise click.UsageError("--tune tunes one generator around all the images at once: pass photo files")
        from stylegan_edit.workflow.folder_inversion import project_folder

        bound = partial(
            project_folder,
            network_spec,
            folder,
            outdir,
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
            strip=strip,
            video=save_video,
            resume=resume,
        )
        run_folder(bound, command="project", outdir=outdir, network_spec=network_spec, progress=progress, device=device)
        return
    check_handoff_writable()
    with output_folder(outdir):
        bar = _ProgressBar(enabled=progress)
        tuning_bar = TuningBar(enabled=progress, on_start=bar.close)
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
                tune=tune,
                tune_steps=tune_steps,
                tune_lr=tune_lr,
                tune_progress=tuning_bar.report,
                device=pick_device(device),
            )
        finally:
            bar.close()
            tuning_bar.close()
        saved = save_inversion(result, outdir, sources=images, strip=strip, video=save_video, tuned_full=tune_full)
        for name, line in zip(saved.names, saved.lines, strict=True):
            click.echo(f"{name}: {line}")
        for line in tuning_lines(result, saved):
            click.echo(line)
        network = resolve_network(network_spec) if network_spec else result.network
        record = record_latents(saved.combined, command="project", network=network, tuned_network=saved.tuned)
    click.echo(f"latents: {saved.combined} (recorded in {record} for `stylegan-edit apply`)")


class _ProgressBar:
    """Once every input is checked: the run's first lines (preset, loss, what was done to each photo); then a
    tqdm bar per batch with the loss."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def report(self, event: ProjectionEvent) -> None:
        from tqdm import tqdm

        from stylegan_edit.workflow.inversion import ProjectionStart

        if isinstance(event, ProjectionStart):
            for line in event.lines:
                click.echo(line)
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
