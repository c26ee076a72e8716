"""The photo inputs of `project` and `encode`: the IMAGES argument (photo files, or one folder), `--align/--no-align`
(auto by default) and `--face-index`, with the one cropping rule stated in their help; the check that the hand-off
folder takes a file before any work; and the run of a folder (`workflow.folders`) under torchrun, with its progress
bar and summary."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stylegan_edit.cli.common import Interrupted, check_writable, ensure_outdir, pick_device

if TYPE_CHECKING:
    from tqdm import tqdm

    from stylegan_edit.workflow.results import FolderEvent, FolderRun, ProjectionStart

F = TypeVar("F", bound=Callable[..., Any])

ALIGN_HELP = (
    "FFHQ-align the face in each photo (dlib's 68 landmarks) before inverting.  [default: auto: align a photo in "
    "which a face is found, unless the face already fills it as in an aligned crop (its FFHQ square spans at "
    "least 70% of the shorter side, centred, tilted under 10 degrees); a photo without a face is centre-cropped]. "
    "--align refuses a photo without a face; --no-align always centre-crops. A centre crop keeps the square of "
    "the shorter side (a 512x400 photo: its middle 400x400); then the picture is resized to the model's "
    "resolution. The first lines printed say what was done to each photo."
)


def photo_options(func: F) -> F:
    """IMAGES, `--align/--no-align` (None: auto) and `--face-index`."""
    options = [
        click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path)),
        click.option("--align/--no-align", default=None, help=ALIGN_HELP),
        click.option(
            "--face-index",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Which face to align when a photo holds several: 0 is the largest, 1 the next, ...",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_handoff_writable() -> None:
    """Fail with one line unless the hand-off record (./.stylegan-edit/last-latents.json) can be written, checked
    before the work so a read-only current folder costs no optimisation."""
    from stylegan_edit.cli.handoff import HANDOFF_PATH

    folder = HANDOFF_PATH.parent
    if folder.exists() and not folder.is_dir():
        raise click.ClickException(f"cannot record the latents for `apply`: {folder} is not a folder")
    check_writable(folder if folder.is_dir() else Path.cwd())


def photo_folder(images: tuple[Path, ...]) -> Path | None:
    """The folder when IMAGES is one folder (a folder run), None when they are photo files; a usage error for a
    folder among other inputs."""
    folders = [path for path in images if path.is_dir()]
    if not folders:
        return None
    if len(images) > 1:
        raise click.UsageError(f"{folders[0]} is a folder: pass one folder alone, or photo files")
    return folders[0]


def run_folder(
    invert: Callable[..., FolderRun],
    *,
    command: str,
    outdir: Path,
    network_spec: str | None,
    progress: bool,
    device: str,
) -> None:
    """Run `invert(distributed=..., progress=..., device=...)` (a `project_folder` / `encode_folder` with its
    options bound) as this process's share of the torchrun group, or alone; then rank 0 prints the summary and
    records the latents for `apply`. Ctrl-C keeps the finished images (exit 130); images without results make the
    exit status 1 once the others are recorded."""
    from stylegan_edit.assets import resolve_network
    from stylegan_edit.cli.handoff import record_latents
    from stylegan_edit.workflow.training import joined

    check_handoff_writable()
    ensure_outdir(outdir)
    try:
        with joined(pick_device(device)) as distributed:
            bar = FolderBar(enabled=progress, main=distributed.is_main)
            try:
                run = invert(distributed=distributed, progress=bar.report, device=distributed.device)
            finally:
                bar.close()
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; the finished images stay in {outdir}: run the same command to continue"
        ) from None
    if not distributed.is_main:
        return
    for line in folder_summary(run):
        click.echo(line)
    if run.combined is None:
        raise click.ClickException(f"no image of {run.folder} could be inverted (see the messages above)")
    network = resolve_network(network_spec) if network_spec else run.network
    record = record_latents(run.combined, command=command, network=network)
    click.echo(f"latents: {run.combined} (recorded in {record} for `stylegan-edit apply`)")
    if run.failed:
        raise click.ClickException(
            f"{len(run.failed)} of {run.num_images} images have no results (first: {run.failed[0]}; see the messages "
            "above): fix or remove them and run again, the others are kept"
        )


def folder_summary(run: FolderRun) -> list[str]:
    """What a folder run did, in lines: the images skipped and inverted, the throughput, the mean metrics."""
    processes = f"{run.world_size} process" + ("es" if run.world_size > 1 else "")
    rate = f" ({run.num_inverted / run.seconds:.3g} images/s)" if run.num_inverted and run.seconds > 0 else ""
    lines = [
        f"{run.folder}: {run.num_images} images; {run.num_skipped} finished earlier (skipped), {run.num_inverted} "
        f"inverted now by {processes} in {run.seconds:.1f} s{rate}"
    ]
    means = run.mean_metrics
    if "psnr" in means:
        line = f"mean of {run.num_images - len(run.failed)} images: MSE {means['mse']:.5f}  PSNR {means['psnr']:.2f} dB"
        line += f"  SSIM {means['ssim']:.4f}" + (
            f"  perceptual {means['perceptual']:.4f}" if "perceptual" in means else ""
        )
        lines.append(line + f"  (each image's metrics.json under {run.outdir})")
    return lines


class FolderBar:
    """Rank 0's progress bar over its share of the images (the shares differ by one batch at most) and its first
    lines (the preset and the loss); every process prints the photos it could not invert, to stderr."""

    def __init__(self, *, enabled: bool, main: bool) -> None:
        self.enabled = enabled and main
        self.main = main
        self.bar: tqdm | None = None

    def report(self, event: FolderEvent | ProjectionStart) -> None:
        from tqdm import tqdm

        from stylegan_edit.workflow.results import FolderBatch, FolderStart, ProjectionStart

        if isinstance(event, FolderStart):
            if self.main:
                todo = event.num_images - event.num_finished
                tqdm.write(
                    f"inverting {todo} of {event.num_images} images ({event.num_finished} finished earlier) on "
                    f"{event.world_size} process{'es' if event.world_size > 1 else ''}"
                )
            self.bar = tqdm(
                total=event.num_here,
                unit="img",
                desc="rank 0" if event.world_size > 1 else "images",
                disable=not self.enabled,
                leave=False,
                dynamic_ncols=True,
            )
        elif isinstance(event, ProjectionStart):
            if self.main:
                for line in event.lines:
                    tqdm.write(line)
        elif isinstance(event, FolderBatch):
            for failed in event.failed:
                tqdm.write(f"skipped {failed}", file=sys.stderr)
            if self.bar is not None:
                self.bar.update(len(event.names) + len(event.failed))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
