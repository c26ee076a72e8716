"""`stylegan-edit train`: train or fine-tune a StyleGAN2 (config e) on an image folder or SynthFaces.

Data-parallel on several processes with torchrun, e.g.
`torchrun --nproc_per_node 2 -m stylegan_edit.cli.train --data faces/ --outdir runs/a`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from stylegan_edit.cli.common import Interrupted, friendly_errors, pick_device
from stylegan_edit.cli.options import FiniteFloat, device_option, progress_option
from stylegan_edit.cli.train_augment import AUGMENT_FIELDS, augment_options, check_augment_options

DEFAULT_SYNTHFACES_NUM = 50_000  # training.data.DEFAULT_SYNTHFACES_NUM
CONFIGS = ("synthfaces-64", "tiny")  # stylegan_edit.training.options.PRESETS, without importing torch
# The workflow's name of each option (`open_gan_run`'s arguments and `TrainingOptions` fields); the others are
# this command's own (where to resume, the progress bar).
WORKFLOW_NAMES = {"data_spec": "data", "config_name": "config", "resume_from": "fine_tune", "run_dir": "run_dir"}
WORKFLOW_NAMES |= {"synthfaces_num": "synthfaces_num", "workers": "num_workers", "device": "device", "seed": "seed"}
WORKFLOW_NAMES |= {"mirror": "xflip", "kimg": "total_kimg", "mbstd_group": "mbstd_group_size", "batch": "batch"}
WORKFLOW_NAMES |= {name: name for name in ("lr", "gamma", "ema_kimg", "grid_kimg", "snapshot_kimg", "state_kimg")}
OPTION_FIELDS: tuple[str, ...] = ("seed", "xflip", "total_kimg", "mbstd_group_size", "batch", "lr", "gamma", "ema_kimg")
OPTION_FIELDS += ("grid_kimg", "snapshot_kimg", "state_kimg", *AUGMENT_FIELDS)
WORKFLOW_NAMES |= AUGMENT_FIELDS | {"snapshot_metrics": "snapshot_metrics"}


def run_dir_option(what: str) -> Any:
    """`--outdir DIR`: the new run's folder; kept when the run is interrupted."""
    return click.option(
        "--outdir",
        "run_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"New folder for {what}; checked before training starts, kept when training is interrupted (continue "
        "it with --resume DIR).  [default: none; a new run needs it]",
    )


def workers_option(func: Any) -> Any:
    return click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Data loading processes (0: load in the training process).",
    )(func)


@click.command()
@click.option(
    "--data",
    "data_spec",
    default=None,
    metavar="FOLDER|synthfaces:STYLE",
    help="Training images: a folder (searched recursively), synthfaces:photo or synthfaces:toon (rendered "
    "SynthFaces).  [default: none; a new run needs it, a resumed one reads the data it recorded]",
)
@run_dir_option("sample grids, network snapshots and the resumable state")
@click.option(
    "--config",
    "config_name",
    type=click.Choice(CONFIGS),
    default="synthfaces-64",
    show_default=True,
    help="Network and hyperparameter preset: synthfaces-64 (the bundled models' recipe) or tiny (a few seconds, "
    "for tests).",
)
@click.option(
    "--kimg",
    type=FiniteFloat(min=0),
    default=None,
    help="Train until this many thousand images.  [default: the config's]",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=None,
    help="Images per step, over all processes.  [default: the config's]",
)
@click.option(
    "--gamma",
    type=FiniteFloat(min=0),
    default=None,
    help="R1 regularisation weight (penalises the discriminator's gradient on real images).  [default: the config's]",
)
@click.option(
    "--lr", type=FiniteFloat(min=0, min_open=True), default=None, help="Adam learning rate.  [default: 0.002]"
)
@click.option(
    "--mbstd-group",
    type=click.IntRange(min=1),
    default=None,
    help="Images the discriminator's minibatch-stddev layer compares; larger groups see more of the attribute "
    "mix (it changes no weight, so a resumed run may change it).  [default: the config's, 4]",
)
@click.option(
    "--ema-kimg",
    type=FiniteFloat(min=0),
    default=None,
    help="Half-life of the generator EMA in thousands of images (stylegan2-ada: batch * 10 / 32); longer averages "
    "over a generator that oscillates.  [default: the config's]",
)
@click.option(
    "--mirror/--no-mirror", default=False, show_default=True, help="Random horizontal flips of the real images."
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of weights, data order and noise."
)
@click.option(
    "--grid-kimg",
    type=FiniteFloat(min=0),
    default=None,
    help="Sample grid interval (0: at the end only).  [default: the config's]",
)
@click.option(
    "--snapshot-kimg",
    type=FiniteFloat(min=0),
    default=None,
    help="Network snapshot interval in thousands of images (0: at the end only).  [default: the config's]",
)
@click.option(
    "--state-kimg",
    type=FiniteFloat(min=0),
    default=None,
    help="Resumable state interval in thousands of images (0: at the end only).  [default: the config's]",
)
@click.option(
    "--resume-from",
    default=None,
    metavar="NAME|PATH",
    help="Fine-tune from a checkpoint (any supported format) or a bundled name, in a new --outdir.  [default: "
    "fresh weights]",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Continue the run in this folder from its saved state (only --kimg, intervals, --data, --batch, --lr, "
    "--gamma, --mbstd-group, --ema-kimg, --ada-target, --ada-kimg, --snapshot-metrics, --device may change).  "
    "[default: start a new run]",
)
@click.option(
    "--synthfaces-num",
    type=click.IntRange(min=1),
    default=DEFAULT_SYNTHFACES_NUM,
    show_default=True,
    help="Faces in a synthfaces: dataset (rendered once and cached).",
)
@augment_options
@workers_option
@device_option
@progress_option
@click.pass_context
@friendly_errors
def train(ctx: click.Context, **kwargs: Any) -> None:
    """Train a StyleGAN2 (config e: R1, path length, style mixing, EMA) with resumable state; fine-tune on a small
    folder with --resume-from and --augment ada."""
    from stylegan_edit.workflow.training import GAN_RESUME_CHANGEABLE

    resume = kwargs["resume_dir"] is not None
    given = given_options(ctx, WORKFLOW_NAMES)
    if resume:
        refuse_resume_changes(ctx, given, WORKFLOW_NAMES, GAN_RESUME_CHANGEABLE)
    elif kwargs["data_spec"] is None or kwargs["run_dir"] is None:
        raise click.UsageError("a new run needs --data and --outdir (or continue one with --resume DIR)")
    else:
        check_augment_options(given, kwargs["augment"])
    options = {} if resume else {"seed": kwargs["seed"], "xflip": kwargs["mirror"]}
    options |= {name: value for name, value in given.items() if name in OPTION_FIELDS}
    run_with_bar(
        "gan",
        kwargs["device"],
        kwargs["progress"],
        run_dir=kwargs["resume_dir"] or kwargs["run_dir"],
        data=kwargs["data_spec"],
        resume=resume,
        config=None if resume else kwargs["config_name"],
        fine_tune=kwargs["resume_from"],
        changes=options,
        synthfaces_num=None if resume else kwargs["synthfaces_num"],
        snapshot_metrics=kwargs["snapshot_metrics"],
        num_workers=kwargs["workers"],
    )


def given_options(ctx: click.Context, names: dict[str, str]) -> dict[str, Any]:
    """The options given on the command line, by their workflow names (`names`: parameter -> workflow name)."""
    return {
        names[name]: value
        for name, value in ctx.params.items()
        if name in names and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }


def refuse_resume_changes(
    ctx: click.Context, given: dict[str, Any], names: dict[str, str], changeable: frozenset[str]
) -> None:
    """A usage error naming the options given on the command line that a resumed run cannot change (the
    workflow's rule: `changeable`)."""
    from stylegan_edit.workflow.training import ResumeError, check_resume_changes

    try:
        check_resume_changes(given, changeable)
    except ResumeError as exc:
        flags = {names[p.name]: p.opts[0] for p in ctx.command.params if p.name in names}
        fixed = ", ".join(sorted(flags[name] for name in exc.names))
        message = f"{fixed} cannot change when resuming: the run keeps the options it started with"
        raise click.UsageError(message) from None


def run_with_bar(kind: str, device: str, progress: bool, **arguments: Any) -> None:
    """Open the GAN or encoder run (`kind` gan / encoder) on every torchrun process, train it with a progress bar
    and its notes on the main process."""
    from tqdm import tqdm

    from stylegan_edit.workflow.training import joined

    try:
        with joined(pick_device(device)) as distributed:
            if kind == "gan":
                from stylegan_edit.workflow.training import open_gan_run

                run: Any = open_gan_run(**arguments, distributed=distributed)
                total, initial, unit = run.total_nimg, run.trainer.cur_nimg, "img"
            else:
                from stylegan_edit.workflow.encoder_training import open_encoder_run

                run = open_encoder_run(**arguments, distributed=distributed)
                total, initial, unit = run.trainer.options.total_steps, run.trainer.step_index, "step"
            echo = tqdm.write if distributed.is_main else (lambda line: None)
            for note in run.notes:
                echo(note)
            bar = tqdm(
                total=total,
                initial=initial,
                unit=unit,
                disable=not (progress and distributed.is_main),
                dynamic_ncols=True,
            )
            with bar:
                if kind == "gan":
                    show: Any = _GanBar(bar, echo, augmented=run.trainer.augmentation is not None)
                else:
                    show = _EncoderBar(bar, echo)
                for step in run.steps():
                    show(step)
            echo(show.finished(run))
    except KeyboardInterrupt:
        raise Interrupted("interrupted; continue from the last saved state with --resume DIR") from None


class _GanBar:
    """The GAN run's progress bar: losses, the latest penalties and the augmentation probability p; a line per
    written file (with p when the run augments)."""

    def __init__(self, bar: Any, echo: Any, *, augmented: bool = False) -> None:
        self.bar, self.echo, self.augmented = bar, echo, augmented
        self.last_r1 = self.last_pl = float("nan")

    def __call__(self, progress: Any) -> None:
        stats = progress.stats
        self.last_r1 = stats.r1_penalty if stats.r1_penalty is not None else self.last_r1
        self.last_pl = stats.pl_penalty if stats.pl_penalty is not None else self.last_pl
        self.bar.update(stats.batch)
        augment = f"p {stats.augment_p:.5f} " if self.augmented else ""
        self.bar.set_postfix_str(
            f"kimg {stats.kimg:.2f} G {stats.loss_g:.3f} D {stats.loss_d:.3f} R1 {self.last_r1:.4f} "
            f"PL {self.last_pl:.4f} {augment}{stats.images_per_second:.1f} img/s"
        )
        if progress.written:
            names = ", ".join(path.name for path in progress.written)
            augment = f" (p {stats.augment_p:.5f})" if self.augmented else ""
            self.echo(f"kimg {stats.kimg:.3f}: wrote {names}{augment}")

    def finished(self, run: Any) -> str:
        return f"finished {run.trainer.cur_nimg / 1000:.3f} kimg in {run.run_dir}"


class _EncoderBar:
    """The encoder run's progress bar: its loss terms and offsets; a line per written file with the PSNR."""

    SHOWN_LOSSES = ("total", "mse", "perceptual", "delta", "adv", "disc")  # e4e's delta and latent GAN terms last

    def __init__(self, bar: Any, echo: Any) -> None:
        self.bar, self.echo = bar, echo

    def __call__(self, progress: Any) -> None:
        losses = progress.stats.losses
        self.bar.update(1)
        shown = " ".join(f"{name} {losses[name]:.4f}" for name in self.SHOWN_LOSSES if name in losses)
        self.bar.set_postfix_str(f"{shown} offsets {progress.stats.num_offsets}")
        if progress.written:
            psnr = f" (validation PSNR {progress.val_psnr:.2f} dB)" if progress.val_psnr is not None else ""
            names = ", ".join(path.name for path in progress.written)
            self.echo(f"step {progress.stats.step + 1}: wrote {names}{psnr}")

    def finished(self, run: Any) -> str:
        return f"finished {run.trainer.step_index} steps in {run.run_dir}"


if __name__ == "__main__":
    train()
