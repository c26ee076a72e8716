"""`stylegan-edit metrics edit-fidelity | ppl`: how cleanly edits move attributes, and path length."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stylegan_edit.cli.common import Sweep, friendly_errors, pick_device
from stylegan_edit.cli.metrics_common import (
    attribute_scorer,
    bundled_classifier,
    common_options,
    network_option,
    write_json,
)


@click.command(name="edit-fidelity")
@network_option
@click.option(
    "--directions",
    "direction_specs",
    multiple=True,
    help="Direction names or files (repeatable).  [default: every bundled direction]",
)
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    help="InterFaceGAN directions to project out for the conditional rows.  [default: all other InterFaceGAN ones]",
)
@click.option("--num", type=click.IntRange(min=1), default=200, show_default=True, help="Faces to edit.")
@click.option(
    "--strength",
    "strengths",
    type=Sweep(),
    default="-2:2:3",
    show_default=True,
    help="Strengths START:STOP:COUNT; slopes are fitted over them.",
)
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
    from tqdm import tqdm

    from stylegan_edit.assets import bundled, resolve, resolve_network
    from stylegan_edit.data.factors import ATTRIBUTES
    from stylegan_edit.editors.direction import load_direction
    from stylegan_edit.editors.sampling import sample_z
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.metrics.fidelity import conditional_variants, measure_edit_fidelity

    if len(set(strengths)) < 2:
        raise click.BadParameter("give at least two strengths, e.g. -2:2:3", param_hint="'--strength'")
    device = pick_device(device)
    generator = load_generator(resolve_network(network_spec), device=device)
    classifier = bundled_classifier(classifier_path, device)
    names = classifier.attribute_names
    paths = [resolve("direction", s, search_dirs=("directions",)) for s in direction_specs] or list(
        bundled("direction").values()
    )
    if not paths:
        raise click.UsageError("no bundled directions in this installation; pass --directions NAME|FILE")
    found = [load_direction(p, generator=generator) for p in paths]
    unknown = [c for c in conditions if c not in {d.name for d in found}]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not among the --directions", param_hint="'--condition'")
    rows = found + conditional_variants(found, conditions or None)
    z = sample_z(generator, num, seed=seed)
    scorer = attribute_scorer(classifier, names)
    results = []
    for direction in tqdm(rows, desc="directions", unit="dir", disable=not progress, leave=False):
        base = direction.name.split("|")[0]
        target = base if direction.method.startswith("interfacegan") and base in names else None
        results.append(
            measure_edit_fidelity(
                generator,
                scorer,
                names,
                direction,
                z,
                strengths,
                target=target,
                candidates=ATTRIBUTES,
                batch_size=batch_size,
            )
        )
    click.echo(f"edit fidelity over {num} faces, strengths {', '.join(f'{s:g}' for s in strengths)} (per unit)")
    click.echo(f"{'direction':<28}{'method':<26}{'target':<12}{'dlogit':>8}{'dprob':>8}{'leak':>8}  largest leak")
    for r in results:
        worst = max(r.leakage, key=lambda k: r.leakage[k])
        label = ("-" if r.flipped else "") + r.direction
        click.echo(
            f"{label[:27]:<28}{r.method[:25]:<26}{r.target:<12}{r.target_logit:>8.3f}{r.target_probability:>8.3f}"
            f"{r.mean_leakage:>8.4f}  {worst} {r.leakage[worst]:.4f}"
        )
    write_json(
        json_path,
        {
            "metric": "edit-fidelity",
            "network": network_spec or "synthfaces-64",
            "num": num,
            "strengths": strengths,
            "rows": [
                {
                    "direction": r.direction,
                    "method": r.method,
                    "target": r.target,
                    "flipped": r.flipped,
                    "target_logit_per_unit": r.target_logit,
                    "target_probability_per_unit": r.target_probability,
                    "mean_leakage": r.mean_leakage,
                    "leakage": r.leakage,
                }
                for r in results
            ],
        },
    )


@click.command()
@network_option
@click.option("--space", type=click.Choice(["z", "w"]), default="w", show_default=True, help="Interpolation space.")
@click.option("--num", type=click.IntRange(min=2), default=1000, show_default=True, help="Paths to sample.")
@click.option(
    "--sampling", type=click.Choice(["full", "end"]), default="full", show_default=True, help="t in [0,1] or t=0."
)
@click.option("--epsilon", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True, help="Step.")
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
    from stylegan_edit.assets import resolve_network
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.metrics.ppl import perceptual_path_length, ppl_distance
    from stylegan_edit.perceptual.losses import FeatureLoss, lpips_weights_path

    device = pick_device(device)
    generator = load_generator(resolve_network(network_spec), device=device)
    if classifier_path is not None and not lpips_weights_path("vgg").is_file():
        distance: Any = FeatureLoss(bundled_classifier(classifier_path, device).feature_maps, "classifier")
    else:
        distance = ppl_distance(device)
    result = perceptual_path_length(
        generator,
        distance,
        num,
        space=space,
        sampling=sampling,
        epsilon=epsilon,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
    )
    if result.distance_name == "classifier":
        note = "the attribute classifier's feature-map distance (no cached LPIPS weights): not comparable to LPIPS PPL"
    else:
        note = result.distance_name
    click.echo(f"PPL ({space}, {sampling}, epsilon {epsilon:g}, {num} paths): {result.mean:.4f}")
    click.echo(f"distance: {note}")
    write_json(
        json_path,
        {
            "metric": "ppl",
            "network": network_spec or "synthfaces-64",
            "space": space,
            "sampling": sampling,
            "epsilon": epsilon,
            "num": num,
            "distance": result.distance_name,
            "ppl": result.mean,
        },
    )
