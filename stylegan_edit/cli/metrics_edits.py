"""`stylegan-edit metrics edit-fidelity | ppl`: how cleanly edits move attributes, and path length."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors, pick_device
from stylegan_edit.cli.metrics_common import check_json, common_options, network_option, write_json
from stylegan_edit.cli.options import FiniteFloat, strength_option


@click.command(name="edit-fidelity")
@network_option
@click.option(
    "--directions",
    "direction_specs",
    multiple=True,
    metavar="NAME|FILE",
    help="Direction names or files (repeatable).  [default: every bundled direction]",
)
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    metavar="NAME|FILE",
    help="InterFaceGAN directions to project out for the conditional rows (repeatable).  [default: all other "
    "InterFaceGAN ones]",
)
@click.option(
    "--num", type=click.IntRange(min=1), default=200, show_default=True, help="Sampled faces to edit and classify."
)
@strength_option(default="-2:2:3", help="Strengths START:STOP:COUNT the slopes are fitted over.")
@common_options
@friendly_errors
def edit_fidelity(
    network_spec: str | None,
    direction_specs: tuple[str, ...],
    conditions: tuple[str, ...],
    num: int,
    strengths: list[float],
    classifier_path: Path | None,
    seed: int,
    batch_size: int,
    json_path: Path | None,
    progress: bool,
    device: str,
) -> None:
    """Per direction: the change of its target attribute's logit and probability per unit strength, and the mean
    absolute change of every other attribute's probability (leakage). InterFaceGAN rows come plain and
    conditional; GANSpace/SeFa components are matched to the attribute they move most."""
    from stylegan_edit.workflow.edit_evaluation import edit_fidelity as measure

    check_json(json_path)
    report = measure(
        network_spec,
        directions=direction_specs,
        conditions=conditions,
        num=num,
        strengths=strengths,
        classifier=classifier_path,
        seed=seed,
        batch_size=batch_size,
        device=pick_device(device),
        progress=progress,
    )
    results = report.rows
    click.echo(f"edit fidelity over {num} faces, strengths {', '.join(f'{s:g}' for s in strengths)} (per unit)")
    click.echo(f"{'direction':<28}{'method':<26}{'target':<12}{'dlogit':>8}{'dprob':>8}{'leak':>8}  largest leak")
    for r in results:
        worst = max(r.leakage, key=lambda k: r.leakage[k])
        label = ("-" if r.flipped else "") + r.direction
        click.echo(
            f"{label[:27]:<28}{r.method[:25]:<26}{r.target:<12}{r.target_logit:>8.3f}{r.target_probability:>8.3f}"
            f"{r.mean_leakage:>8.4f}  {worst} {r.leakage[worst]:.4f}"
        )
    write_json(json_path, report.document())


@click.command()
@network_option
@click.option(
    "--space",
    type=click.Choice(["z", "w"]),
    default="w",
    show_default=True,
    help="Space the paths are interpolated in: z (slerp) or w (lerp).",
)
@click.option("--num", type=click.IntRange(min=2), default=1000, show_default=True, help="Paths to sample.")
@click.option(
    "--sampling",
    type=click.Choice(["full", "end"]),
    default="full",
    show_default=True,
    help="Where on each path to measure: full (t anywhere in [0, 1]) or end (t = 0, at the endpoints).",
)
@click.option(
    "--epsilon",
    type=FiniteFloat(min=0, min_open=True),
    default=1e-4,
    show_default=True,
    help="Step along the path between the two images compared (the distance is divided by its square).",
)
@common_options
@friendly_errors
def ppl(
    network_spec: str | None,
    space: str,
    num: int,
    sampling: str,
    epsilon: float,
    classifier_path: Path | None,
    seed: int,
    batch_size: int,
    json_path: Path | None,
    progress: bool,
    device: str,
) -> None:
    """Perceptual path length (StyleGAN paper): LPIPS-VGG when its torchvision weights are in the torch hub cache
    (never downloaded), else the attribute classifier's feature-map distance; the output says which."""
    from stylegan_edit.workflow.edit_evaluation import ppl as measure

    check_json(json_path)
    report = measure(
        network_spec,
        space=space,
        num=num,
        sampling=sampling,
        epsilon=epsilon,
        classifier=classifier_path,
        seed=seed,
        batch_size=batch_size,
        device=pick_device(device),
        progress=progress,
    )
    click.echo(f"PPL ({space}, {sampling}, epsilon {epsilon:g}, {num} paths): {report.result.mean:.4f}")
    click.echo(f"distance: {report.distance_note}")
    write_json(json_path, report.document())
