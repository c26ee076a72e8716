"""`stylegan-edit encode`: invert photos with a pSp / e4e encoder (ours or an official checkpoint) or a ReStyle
checkpoint's iterations, optionally refined by L-BFGS, writing what `project` writes."""

from __future__ import annotations

from contextlib import closing
from functools import partial
from pathlib import Path

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
from stylegan_edit.cli.project import LOSS_NAMES
from stylegan_edit.cli.tuning import TuningBar, check_tune_options, tune_options, tuning_lines

PERCEPTUAL_NAMES = tuple(name for name in LOSS_NAMES if name not in ("mse", "l1"))  # the distances, not pixel losses
PERCEPTUAL_HELP = (
    "Perceptual distance reported in the metrics (chosen as `project --loss` chooses it): auto (LPIPS-VGG if its "
    "weights are cached, else the bundled classifier's features for SynthFaces models, else the discriminator's), "
    "lpips / lpips-vgg, lpips-alex, lpips-squeeze, disc or classifier."
)


@click.command()
@photo_options
@encoder_option
@network_option(default_text="synthfaces-64; the decoder inside an official pSp / e4e / ReStyle --encoder file")
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=None,
    help="Iterations of a ReStyle encoder, each adding a correction to the codes (one-pass encoders refuse it).  "
    "[default: 5, as ReStyle's inference]",
)
@click.option(
    "--refine",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="STEPS",
    help="Then refine the codes by this many L-BFGS steps (as `project --preset encoder-lbfgs`, minimising the "
    "--perceptual distance); 0 keeps the encoder's codes.",
)
@outdir_option(Path("out/encode"), "one sub-folder per image and projected.safetensors with all latents")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Images per batch.")
@click.option(
    "--perceptual", type=click.Choice(PERCEPTUAL_NAMES), default="auto", show_default=True, help=PERCEPTUAL_HELP
)
@tune_options
@resume_folder_option
@progress_option
@device_option
@friendly_errors
def encode(
    images: tuple[Path, ...],
    align: bool | None,
    face_index: int,
    encoder_spec: str,
    network_spec: str | None,
    iterations: int | None,
    refine: int,
    outdir: Path,
    batch_size: int,
    perceptual: str,
    tune: bool,
    tune_steps: int,
    tune_lr: float,
    tune_full: bool,
    resume: bool,
    progress: bool,
    device: str,
) -> None:
    """Encode IMAGES into the generator's W+ with a trained encoder (pSp reconstructs best alone, e4e keeps its
    codes closer to W and so more editable; ReStyle iterates either, correcting its codes a few times); write
    per-image latents (native and NVIDIA projected_w.npz), proj.png, compare.png (target | reconstruction) and
    metrics, and record the latents for `apply`. An official pSp / e4e / ReStyle .pt holds its generator, so
    --network may be left out. --refine STEPS continues with L-BFGS from the codes; --tune then tunes the
    generator around them (PTI) and writes it beside the latents.

    IMAGES may be one FOLDER: its images (recursively, in sorted order; results in --outdir mirror its sub-folders)
    are encoded --batch-size at a time, each written when its batch is done; see --resume. Under
    `torchrun --nproc_per_node N -m stylegan_edit.cli encode FOLDER ...` the N processes share the batches (one
    GPU each on CUDA). A folder run prints a summary instead of a line per image and takes no --tune."""
    from tqdm import tqdm

    from stylegan_edit.assets import resolve_network
    from stylegan_edit.cli.handoff import record_latents
    from stylegan_edit.workflow.inversion import encode as run_encoder
    from stylegan_edit.workflow.outputs import save_inversion

    check_tune_options(tune)
    folder = photo_folder(images)
    if folder is not None:
        if tune:
            raise click.UsageError("--tune tunes one generator around all the images at once: pass photo files")
        from stylegan_edit.workflow.folder_inversion import encode_folder

        bound = partial(
            encode_folder,
            network_spec,
            folder,
            outdir,
            encoder=encoder_spec,
            iterations=iterations,
            refine=refine,
            perceptual=perceptual,
            align=align,
            face_index=face_index,
            batch_size=batch_size,
            resume=resume,
        )
        run_folder(bound, command="encode", outdir=outdir, network_spec=network_spec, progress=progress, device=device)
        return
    check_handoff_writable()
    with output_folder(outdir):
        tuning_bar = TuningBar(enabled=progress)
        with (
            tqdm(total=len(images), unit="img", desc="encoding", disable=not progress, leave=False) as bar,
            closing(tuning_bar),
        ):
            result = run_encoder(
                network_spec,
                list(images),
                encoder=encoder_spec,
                iterations=iterations,
                refine=refine,
                perceptual=perceptual,
                align=align,
                face_index=face_index,
                batch_size=batch_size,
                progress=lambda done, total: bar.update(done - bar.n),
                tune=tune,
                tune_steps=tune_steps,
                tune_lr=tune_lr,
                tune_progress=tuning_bar.report,
                device=pick_device(device),
            )
        for note in result.notes:
            click.echo(note)
        saved = save_inversion(result, outdir, sources=images, tuned_full=tune_full)
        for name, line in zip(saved.names, saved.lines, strict=True):
            click.echo(f"{name}: {line}")
        for line in tuning_lines(result, saved):
            click.echo(line)
        network = resolve_network(network_spec) if network_spec else result.network
        record = record_latents(saved.combined, command="encode", network=network, tuned_network=saved.tuned)
    milliseconds = 1000 * result.seconds / len(result.latents)
    passes = f" ({result.iterations} iterations)" if result.iterations is not None else ""
    refined = f", refined by {result.num_steps} L-BFGS steps," if result.preset is not None else ""
    how = f"{result.encoder_arch}{passes}{refined}"
    click.echo(f"encoded {len(result.latents)} images with {how} in {milliseconds:.1f} ms each")
    click.echo(f"latents: {saved.combined} (recorded in {record} for `stylegan-edit apply`)")
