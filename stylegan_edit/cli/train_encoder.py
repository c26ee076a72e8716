"""`stylegan-edit train-encoder`: train a pSp, e4e or ReStyle encoder for a generator, with resumable state.

Data-parallel on several processes with torchrun, e.g.
`torchrun --nproc_per_node 2 -m stylegan_edit.cli.train_encoder --arch e4e --outdir runs/e4e`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stylegan_edit.cli.common import friendly_errors
from stylegan_edit.cli.options import FiniteFloat, device_option, network_option, progress_option
from stylegan_edit.cli.train import DEFAULT_SYNTHFACES_NUM, run_dir_option, workers_option

# The workflow's name of each option (`open_encoder_run`'s arguments and `EncoderTrainingOptions` fields).
WORKFLOW_NAMES = {"data_spec": "data", "network_spec": "network", "resume_from": "fine_tune", "run_dir": "run_dir"}
WORKFLOW_NAMES |= {"arch": "arch", "backbone_init": "backbone_init", "synthfaces_num": "synthfaces_num"}
WORKFLOW_NAMES |= {"workers": "num_workers", "device": "device", "steps": "total_steps"}
SCHEDULING = ("total_steps", "val_every", "snapshot_every", "state_every")
TRAINING: tuple[str, ...] = (
    "batch",
    "lr",
    "synthetic_fraction",
    "perceptual",
    "progressive_start",
    "progressive_every",
    "seed",
    "iterations",
)
TRAINING += ("w_norm_weight", "delta_weight", "adv_weight")
WORKFLOW_NAMES |= {name: name for name in (*SCHEDULING[1:], *TRAINING)}
# `encoders.config.ARCHS` and `DEFAULT_ITERATIONS`, spelled out so that the CLI starts without importing torch
# (tests/test_restyle_training.py checks that they agree).
ARCH_CHOICES = ("psp", "e4e", "restyle-psp", "restyle-e4e")
TRAINING_ITERATIONS = 5


@click.command("train-encoder")
@click.option(
    "--arch",
    type=click.Choice(ARCH_CHOICES),
    default=None,
    help="Encoder kind: psp (codes anywhere in W+, best reconstruction), e4e (codes kept near W, better edits), "
    "or their ReStyle variants restyle-psp / restyle-e4e (iterated, each pass correcting the last; with "
    "--resume-from psp|e4e the ReStyle encoder starts from that encoder).  [default: none; a new run needs it, "
    "a fine-tune takes the encoder's]",
)
@network_option(default_text="synthfaces-64; a resumed run: the one it recorded")
@click.option(
    "--data",
    "data_spec",
    default=None,
    metavar="FOLDER|synthfaces:STYLE",
    help="Real training images: a folder (searched recursively), synthfaces:photo or synthfaces:toon.  "
    "[default: synthfaces:photo; a resumed run: the data it recorded]",
)
@click.option(
    "--synthetic-fraction",
    type=FiniteFloat(min=0, max=1),
    default=0.5,
    show_default=True,
    help="Share of each batch rendered by the generator from known codes (these also get a latent loss).",
)
@run_dir_option("validation grids, encoder snapshots and the resumable state")
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
    metavar="psp|e4e|PATH",
    help="Fine-tune an encoder (a file such as a run's snapshot, or a bundled name: psp, e4e) in a new --outdir: "
    "its weights, training options and step count go on, options given here override its options; the "
    "optimiser and e4e's latent discriminator start fresh. An encoder of another --network of the same shape "
    "is retargeted: it takes this network's mean W.  [default: fresh weights]",
)
@click.option("--steps", type=click.IntRange(min=1), default=20000, show_default=True, help="Train until this step.")
@click.option(
    "--batch", type=click.IntRange(min=1), default=8, show_default=True, help="Images per step, over all processes."
)
@click.option(
    "--lr", type=FiniteFloat(min=0, min_open=True), default=1e-4, show_default=True, help="Adam learning rate."
)
@click.option(
    "--perceptual",
    default="auto",
    show_default=True,
    help="Perceptual loss: auto (LPIPS-VGG if its weights are cached, else the bundled classifier's or the "
    "discriminator's features), lpips, lpips-alex, lpips-squeeze, disc, or none.",
)
@click.option(
    "--backbone-init",
    type=click.Choice(["random", "classifier"]),
    default="random",
    show_default=True,
    help="random: a fresh IR-SE backbone; classifier: the bundled attribute classifier's stages and weights.",
)
@click.option(
    "--progressive-start",
    type=click.IntRange(min=0),
    default=2000,
    show_default=True,
    help="e4e: the step at which the first per-layer offset (W+ away from one W) is enabled.",
)
@click.option(
    "--progressive-every",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="e4e: steps between enabling offsets.",
)
@click.option(
    "--val-every",
    type=click.IntRange(min=0),
    default=500,
    show_default=True,
    help="Steps between validation grids and PSNR (0: at the end only).",
)
@click.option(
    "--snapshot-every",
    type=click.IntRange(min=0),
    default=2000,
    show_default=True,
    help="Steps between encoder snapshots (0: at the end only).",
)
@click.option(
    "--state-every",
    type=click.IntRange(min=0),
    default=500,
    show_default=True,
    help="Steps between resumable states (0: at the end only).",
)
@click.option(
    "--w-norm-weight",
    type=FiniteFloat(min=0),
    default=None,
    help="pSp: weight of the codes' distance from the mean W.  [default: from the arch's table]",
)
@click.option(
    "--delta-weight",
    type=FiniteFloat(min=0),
    default=None,
    help="e4e: weight of the per-layer offset norms (keeps codes near W).  [default: from the arch's table]",
)
@click.option(
    "--adv-weight",
    type=FiniteFloat(min=0),
    default=None,
    help="e4e: weight of the latent adversarial loss.  [default: from the arch's table]",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=TRAINING_ITERATIONS,
    show_default=True,
    help="ReStyle: passes per batch, each back-propagating its own loss (ReStyle's n_iters_per_batch).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the initial weights, the data order and the sampled codes.",
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
def train_encoder(ctx: click.Context, **kwargs: Any) -> None:
    """Train a pSp, e4e or ReStyle encoder against a generator, on real images and the generator's own renders."""
    from stylegan_edit.cli.train import given_options, refuse_resume_changes, run_with_bar
    from stylegan_edit.workflow.encoder_training import ENCODER_RESUME_CHANGEABLE

    resume = kwargs["resume_dir"] is not None
    given = given_options(ctx, WORKFLOW_NAMES)
    if resume:
        refuse_resume_changes(ctx, given, WORKFLOW_NAMES, ENCODER_RESUME_CHANGEABLE)
    elif kwargs["run_dir"] is None or (kwargs["arch"] is None and kwargs["resume_from"] is None):
        raise click.UsageError("a new run needs --arch and --outdir (or continue one with --resume DIR)")
    # A new run schedules itself by these options' values; a fine-tune keeps the encoder's options unless given.
    changes = {} if resume else {name: kwargs[name] for name in SCHEDULING[1:]} | {"total_steps": kwargs["steps"]}
    changes |= {name: value for name, value in given.items() if name in (*SCHEDULING, *TRAINING)}
    run_with_bar(
        "encoder",
        kwargs["device"],
        kwargs["progress"],
        run_dir=kwargs["resume_dir"] or kwargs["run_dir"],
        arch=kwargs["arch"],
        network=given.get("network"),
        data=given.get("data"),
        resume=resume,
        fine_tune=kwargs["resume_from"],
        backbone_init=given.get("backbone_init"),
        changes=changes,
        synthfaces_num=None if resume else kwargs["synthfaces_num"],
        num_workers=kwargs["workers"],
    )


if __name__ == "__main__":
    train_encoder()
