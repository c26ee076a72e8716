"""`stylegan-edit train-hyperstyle`: train a HyperStyle hypernetwork (arXiv:2111.15666) for a generator and its
frozen e4e / pSp W encoder, with resumable state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stylegan_edit.cli.common import Interrupted, friendly_errors, pick_device
from stylegan_edit.cli.options import FiniteFloat, device_option, network_option, progress_option
from stylegan_edit.cli.train import DEFAULT_SYNTHFACES_NUM, given_options, run_dir_option, workers_option

# The workflow's name of each option (`open_hyperstyle_run`'s arguments and `HyperStyleTrainingOptions` fields).
WORKFLOW_NAMES = {"data_spec": "data", "network_spec": "network", "encoder_spec": "encoder", "run_dir": "run_dir"}
WORKFLOW_NAMES |= {"resume_from": "fine_tune", "synthfaces_num": "synthfaces_num", "workers": "num_workers"}
WORKFLOW_NAMES |= {"device": "device", "steps": "total_steps"}
SCHEDULING = ("total_steps", "val_every", "snapshot_every", "state_every")
TRAINING = ("batch", "lr", "iterations", "perceptual", "mse_weight", "perceptual_weight", "seed")
WORKFLOW_NAMES |= {name: name for name in (*SCHEDULING[1:], *TRAINING)}


@click.command("train-hyperstyle")
@network_option(default_text="synthfaces-64; a resumed run: the one it recorded")
@click.option(
    "--w-encoder",
    "encoder_spec",
    default=None,
    metavar="psp|e4e|PATH",
    help="The frozen W encoder whose codes HyperStyle refines: e4e or psp (the bundled one for --network) or one "
    "of our encoder files.  [default: e4e, as the paper; a fine-tune or resumed run keeps its own]",
)
@click.option(
    "--data",
    "data_spec",
    default=None,
    metavar="FOLDER|synthfaces:STYLE",
    help="Training images: a folder (searched recursively), synthfaces:photo or synthfaces:toon.  "
    "[default: synthfaces:photo; a resumed run: the data it recorded]",
)
@run_dir_option("validation grids, HyperStyle snapshots and the resumable state")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Continue the run in this folder (only --steps, intervals, --data, --network, --device may change).  "
    "[default: start a new run]",
)
@click.option(
    "--resume-from",
    default=None,
    metavar="PATH",
    help="Fine-tune a HyperStyle file (such as a run's snapshot) in a new --outdir: its weights, W encoder, "
    "training options and step count go on, options given here override its options; the optimiser starts "
    "fresh.  [default: a new hypernetwork, whose zero offsets reproduce the W encoder]",
)
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True, help="Train until this step.")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True, help="Real images per step.")
@click.option(
    "--lr", type=FiniteFloat(min=0, min_open=True), default=1e-4, show_default=True, help="Adam learning rate."
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Hypernetwork passes per batch, each refining the previous reconstruction (the paper's 5).",
)
@click.option(
    "--perceptual",
    default="auto",
    show_default=True,
    help="Perceptual loss: auto (LPIPS-VGG if its weights are cached, else the bundled classifier's or the "
    "discriminator's features), lpips, lpips-alex, lpips-squeeze, disc, or none.",
)
@click.option(
    "--mse-weight", type=FiniteFloat(min=0), default=1.0, show_default=True, help="Weight of the pixel L2 loss."
)
@click.option(
    "--perceptual-weight",
    type=FiniteFloat(min=0),
    default=0.8,
    show_default=True,
    help="Weight of the perceptual loss (the paper's LPIPS weight).",
)
@click.option(
    "--val-every",
    type=click.IntRange(min=0),
    default=250,
    show_default=True,
    help="Steps between validation grids and PSNR (0: at the end only).",
)
@click.option(
    "--snapshot-every",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Steps between HyperStyle snapshots (0: at the end only).",
)
@click.option(
    "--state-every",
    type=click.IntRange(min=0),
    default=250,
    show_default=True,
    help="Steps between resumable states (0: at the end only).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the initial weights and the data order.",
)
@click.option(
    "--synthfaces-num",
    type=click.IntRange(min=1),
    default=DEFAULT_SYNTHFACES_NUM,
    show_default=True,
    help="Faces in synthfaces: data (rendered once and cached).",
)
@workers_option
@device_option
@progress_option
@click.pass_context
@friendly_errors
def train_hyperstyle(ctx: click.Context, **kwargs: Any) -> None:
    """Train HyperStyle: per-image generator weight offsets that refine a W encoder's inversions."""
    from stylegan_edit.cli.train import refuse_resume_changes
    from stylegan_edit.workflow.hyperstyle_training import HYPERSTYLE_RESUME_CHANGEABLE

    resume = kwargs["resume_dir"] is not None
    given = given_options(ctx, WORKFLOW_NAMES)
    if resume:
        refuse_resume_changes(ctx, given, WORKFLOW_NAMES, HYPERSTYLE_RESUME_CHANGEABLE)
    elif kwargs["run_dir"] is None:
        raise click.UsageError("a new run needs --outdir (or continue one with --resume DIR)")
    # A new run schedules itself by these options' values; a fine-tune keeps the file's options unless given.
    changes = {} if resume else {name: kwargs[name] for name in SCHEDULING[1:]} | {"total_steps": kwargs["steps"]}
    if not resume and kwargs["resume_from"] is None:
        changes |= {name: kwargs[name] for name in TRAINING}
    changes |= {name: value for name, value in given.items() if name in (*SCHEDULING, *TRAINING)}
    _run(
        kwargs["progress"],
        run_dir=kwargs["resume_dir"] or kwargs["run_dir"],
        network=given.get("network"),
        encoder=given.get("encoder"),
        data=given.get("data"),
        resume=resume,
        fine_tune=kwargs["resume_from"],
        changes=changes,
        synthfaces_num=None if resume else kwargs["synthfaces_num"],
        device=pick_device(kwargs["device"]),
        num_workers=kwargs["workers"],
    )


def _run(progress: bool, **arguments: Any) -> None:
    from tqdm import tqdm

    from stylegan_edit.workflow.hyperstyle_training import open_hyperstyle_run

    try:
        run = open_hyperstyle_run(**arguments)
        for note in run.notes:
            tqdm.write(note)
        options = run.trainer.options
        with tqdm(total=options.total_steps, initial=run.trainer.step_index, unit="step", disable=not progress) as bar:
            for event in run.steps():
                bar.update(1)
                bar.set_postfix(loss=f"{event.stats.losses['total']:.4f}", refresh=False)
                if event.val_psnr is not None:
                    w_psnr, hyper_psnr = event.val_psnr
                    tqdm.write(
                        f"step {event.stats.step + 1}: validation PSNR {hyper_psnr:.2f} dB (W encoder {w_psnr:.2f} dB)"
                    )
        snapshot = run.run_dir / f"hyperstyle-{run.trainer.step_index:07d}.safetensors"
        tqdm.write(f"trained {run.trainer.step_index} steps; HyperStyle: {snapshot}")
    except KeyboardInterrupt:
        raise Interrupted("interrupted; continue from the last saved state with --resume DIR") from None


if __name__ == "__main__":
    train_hyperstyle()
