"""`stylegan-edit train-classifier`: train the SynthFaces attribute classifier and report held-out accuracy."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors, output_folder
from stylegan_edit.cli.options import FiniteFloat, outdir_option, progress_option

CLASSIFIER_FILE = "attribute-classifier.safetensors"


@click.command(name="train-classifier")
@click.option("--num", type=click.IntRange(min=1), default=20_000, show_default=True, help="Training faces per style.")
@click.option("--epochs", type=click.IntRange(min=1), default=6, show_default=True, help="Passes over the faces.")
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True, help="Faces per step.")
@click.option(
    "--lr",
    type=FiniteFloat(min=0, min_open=True),
    default=3e-3,
    show_default=True,
    help="Peak learning rate of the one-cycle schedule.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Initialisation and augmentation seed."
)
@click.option(
    "--eval-num",
    type=click.IntRange(min=0),
    default=2000,
    show_default=True,
    help="Fresh held-out faces per style to measure accuracy on (seeds from 10,000,000); 0 skips it.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float16", "float32"]),
    default="float16",
    show_default=True,
    help="Precision of the stored weights.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads torch may use.  [default: torch's choice, the number of cores]",
)
@outdir_option(Path("."), f"the classifier, {CLASSIFIER_FILE}")
@progress_option
@friendly_errors
def train_classifier(
    num: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    eval_num: int,
    dtype: str,
    threads: int | None,
    outdir: Path,
    progress: bool,
) -> None:
    """Train the attribute classifier (seven SynthFaces attributes and the photo/toon style) on rendered faces of
    both styles, measure its accuracy on fresh faces, and write it as attribute-classifier.safetensors."""
    from stylegan_edit.workflow.classification import train_classifier as train

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    out_path = outdir / CLASSIFIER_FILE
    with output_folder(outdir):
        trained = train(
            out_path,
            num=num,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            eval_num=eval_num,
            dtype=dtype,
            progress=progress,
        )
    click.echo(f"wrote {out_path} ({trained.size / 1e6:.2f} MB, trained in {trained.seconds / 60:.1f} min)")
    if trained.accuracy is not None:
        click.echo(format_accuracy(trained.accuracy, eval_num, trained.seed_offset))


def format_accuracy(accuracy: dict[str, dict[str, float]], num: int, seed_offset: int) -> str:
    """A table of held-out accuracy: one row per head, one column per style."""
    styles = list(accuracy)
    names = list(next(iter(accuracy.values())))
    lines = [f"held-out accuracy ({num} fresh faces per style, seeds from {seed_offset:,})"]
    lines.append(f"{'head':<12}" + "".join(f"{s:>9}" for s in styles))
    for name in names:
        lines.append(f"{name:<12}" + "".join(f"{accuracy[s][name]:>9.4f}" for s in styles))
    worst = min(min(v for k, v in row.items()) for row in accuracy.values())
    lines.append(f"{'minimum':<12}{worst:>9.4f}")
    return "\n".join(lines)
