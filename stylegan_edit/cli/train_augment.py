"""`stylegan-edit train`'s options for small datasets: adaptive discriminator augmentation (arXiv:2006.06676),
FreezeD (arXiv:2002.10964) and the metrics written per snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from stylegan_edit.cli.options import FiniteFloat

F = TypeVar("F", bound=Callable[..., Any])

AUGMENT_MODES = ("none", "ada", "fixed")  # training.options.AUGMENT_MODES, without importing torch
AUGPIPES = ("blit", "geom", "color", "bg", "bgc")  # training.augment.PIPELINES
# Parameter -> TrainingOptions field; `snapshot_metrics` is the workflow's own argument.
AUGMENT_FIELDS = {name: name for name in ("augment", "aug_p", "ada_target", "ada_kimg", "augpipe", "freeze_d")}
NEEDS_AUGMENT = ("aug_p", "ada_target", "ada_kimg", "augpipe")


def augment_options(func: F) -> F:
    """The augmentation, FreezeD and snapshot-metric options, in `--help` order."""
    options = [
        click.option(
            "--augment",
            type=click.Choice(AUGMENT_MODES),
            default="none",
            show_default=True,
            help="Augment every image the discriminator sees (reals and fakes, also in R1): ada tunes the "
            "probability p so that D stops overfitting a small dataset; fixed keeps p at --aug-p.",
        ),
        click.option(
            "--aug-p",
            type=FiniteFloat(min=0, max=1),
            default=None,
            help="Augmentation probability: the starting p of ada, the p of fixed.  [default: 0; fixed needs it]",
        ),
        click.option(
            "--ada-target",
            type=FiniteFloat(min=0, max=1),
            default=None,
            help="ada's target for the share of positive discriminator outputs on real images (the overfitting "
            "heuristic r_t).  [default: 0.6]",
        ),
        click.option(
            "--ada-kimg",
            type=FiniteFloat(min=0, min_open=True),
            default=None,
            help="Thousands of images for ada to move p by 1 (smaller reacts faster).  [default: 500; 100 with "
            "--resume-from]",
        ),
        click.option(
            "--augpipe",
            type=click.Choice(AUGPIPES),
            default="bgc",
            show_default=True,
            help="Augmentations: blit (flips, 90-degree turns, integer shifts), geom (scaling, rotation, "
            "fractional shifts), color (brightness, contrast, luma flip, hue, saturation), bg (blit + geom) or "
            "bgc (all).",
        ),
        click.option(
            "--freeze-d",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="FreezeD: keep the weights of the first N discriminator blocks (the highest resolutions) when "
            "fine-tuning.",
        ),
        click.option(
            "--snapshot-metrics",
            type=click.IntRange(min=0),
            default=None,
            help="Generated images for the KID and MS-SSIM diversity of each network snapshot, written with p to "
            "snapshot_metrics.jsonl (0: none).  [default: 64 with --resume-from, else 0]",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_augment_options(given: dict[str, Any], augment: str) -> None:
    """A usage error for augmentation settings given with `--augment none` (they would do nothing)."""
    if augment != "none":
        return
    flags = [f"--{name.replace('_', '-')}" for name in NEEDS_AUGMENT if name in given]
    if flags:
        raise click.UsageError(f"{', '.join(flags)} need --augment ada or fixed")
