"""`stylegan-edit metrics fid | separability | edit-fidelity | ppl | classifier`: quality and editing metrics
measured with the bundled SynthFaces attribute classifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylegan_edit.commands.common import Sweep, friendly_errors, pick_device

if TYPE_CHECKING:
    from stylegan_edit.editors.sampling import Scorer
    from stylegan_edit.metrics.classifier import AttributeClassifier

NETWORK_HELP = "Checkpoint (any supported format) or bundled name.  [default: synthfaces-64]"
REAL_SEED_OFFSET = 20_000_000  # far from training seeds (0 ..) and the classifier's held-out seeds (10,000,000 ..)


def _network_option(func: Any) -> Any:
    return click.option("--network", "network_spec", default=None, help=NETWORK_HELP)(func)


def _common_options(func: Any) -> Any:
    options = [
        click.option(
            "--classifier",
            "classifier_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Attribute classifier file.  [default: the bundled one]",
        ),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Sampling seed."),
        click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Batch size."),
        click.option(
            "--json",
            "json_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Also write the results to this JSON file.",
        ),
        click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars."),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _write_json(path: Path | None, document: dict[str, Any]) -> None:
    if path is None:
        return
    from stylegan_edit.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2))
    click.echo(f"wrote {path}")


def _classifier(path: Path | None, device: str) -> AttributeClassifier:
    from stylegan_edit.metrics.classifier import load_classifier

    return load_classifier(path, device=device)


def _attribute_scorer(classifier: AttributeClassifier, names: tuple[str, ...]) -> Scorer:
    import torch

    columns = [classifier.index(n) for n in names]

    def score(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return classifier(images)[:, columns]

    return score


@click.group()
def metrics() -> None:
    """Measure generators and edits with the bundled attribute classifier."""


@metrics.command()
@_network_option
@click.option("--num", type=click.IntRange(min=2), default=5000, show_default=True, help="Images per set.")
@click.option(
    "--real",
    "real_spec",
    default="synthfaces:photo",
    show_default=True,
    help="Real images: synthfaces:photo, synthfaces:toon (fresh renders) or a folder of images.",
)
@click.option("--truncation-psi", type=float, default=1.0, show_default=True, help="Truncation of the samples.")
@_common_options
@friendly_errors
def fid(
    network_spec: str | None,
    num: int,
    real_spec: str,
    truncation_psi: float,
    classifier_path: Path | None,
    seed: int,
    batch_size: int,
    json_path: Path | None,
    progress: bool,
    device: str,
) -> None:
    """FID between generated and real images in the attribute classifier's feature space (NOT Inception FID),
    with the FID between two disjoint real sets of the same size as a baseline, and attribute frequencies."""
    import numpy as np

    from stylegan_edit.bundled import resolve_network
    from stylegan_edit.checkpoints import load_generator
    from stylegan_edit.data import SynthFaces
    from stylegan_edit.generators.training.data import SYNTHFACES_PREFIX, ImageFolder
    from stylegan_edit.metrics.fid import FEATURE_SPACE, classify_batches, compare, dataset_batches, generated_batches

    style = real_spec.removeprefix(SYNTHFACES_PREFIX) if real_spec.startswith(SYNTHFACES_PREFIX) else None
    if style is not None and style not in ("photo", "toon"):
        raise click.BadParameter(f"unknown SynthFaces style {style!r}", param_hint="'--real'")
    device = pick_device(device)
    generator = load_generator(resolve_network(network_spec), device=device)
    classifier = _classifier(classifier_path, device)
    resolution = generator.img_resolution
    if style is not None:
        real_set: Any = SynthFaces(
            2 * num, size=resolution, style="toon" if style == "toon" else "photo", seed_offset=REAL_SEED_OFFSET
        )
        order = list(range(2 * num))
        description = f"{real_spec} renders, seeds from {REAL_SEED_OFFSET:,}"
    else:
        real_set = ImageFolder(real_spec, resolution)
        available = len(real_set) // 2
        if available < 2:
            raise ValueError(f"{real_spec}: {len(real_set)} images; FID and its baseline need at least 4")
        if available < num:
            click.echo(f"note: {real_spec} holds {len(real_set)} images, so each set has {available} images")
            num = available
        order = np.random.RandomState(seed).permutation(len(real_set))[: 2 * num].tolist()
        description = real_set.summary()
    total = num if progress else None  # no total: no progress bar
    batches = generated_batches(generator, num, seed=seed, batch_size=batch_size, truncation_psi=truncation_psi)
    generated = classify_batches(classifier, batches, total=total, desc="generated")
    real_a = classify_batches(classifier, dataset_batches(real_set, order[:num], batch_size=batch_size), total=total)
    real_b = classify_batches(classifier, dataset_batches(real_set, order[num:], batch_size=batch_size), total=total)
    result = compare(generated, real_a, real_b, classifier.attribute_names)
    click.echo(f"FID in the {FEATURE_SPACE} (NOT Inception FID: compare it only with the real-vs-real baseline)")
    click.echo(f"real images: {description}; {result.num} images per set, at {resolution}x{resolution}")
    click.echo(f"FID generated vs real      {result.fid:10.4f}")
    click.echo(f"FID real vs real baseline  {result.baseline:10.4f}")
    click.echo(f"ratio                      {result.ratio:10.3f}")
    click.echo(f"{'attribute':<12}{'generated':>10}{'real':>8}{'diff':>8}")
    differences = result.frequency_differences()
    for name, g, r in zip(result.names, result.frequency_generated, result.frequency_real, strict=True):
        click.echo(f"{name:<12}{g:>10.3f}{r:>8.3f}{differences[name]:>+8.3f}")
    _write_json(
        json_path,
        {
            "metric": "fid",
            "feature_space": FEATURE_SPACE,
            "note": "NOT Inception FID; compare with baseline_fid only",
            "network": network_spec or "synthfaces-64",
            "real": real_spec,
            "num": result.num,
            "fid": result.fid,
            "baseline_fid": result.baseline,
            "ratio": result.ratio,
            "frequency_generated": dict(zip(result.names, result.frequency_generated, strict=True)),
            "frequency_real": dict(zip(result.names, result.frequency_real, strict=True)),
        },
    )


@metrics.command()
@_network_option
@click.option(
    "--space", type=click.Choice(["z", "w", "both"]), default="both", show_default=True, help="Latent space(s)."
)
@click.option("--num", type=click.IntRange(min=4), default=10_000, show_default=True, help="Samples.")
@_common_options
@friendly_errors
def separability(
    network_spec: str | None,
    space: str,
    num: int,
    classifier_path: Path | None,
    seed: int,
    batch_size: int,
    json_path: Path | None,
    progress: bool,
    device: str,
) -> None:
    """Linear separability (StyleGAN paper): exp of the summed conditional entropies of the seven SynthFaces
    attributes given a linear SVM on the latents; 1 is perfectly separable, lower is better."""
    from stylegan_edit.bundled import resolve_network
    from stylegan_edit.checkpoints import load_generator
    from stylegan_edit.data.factors import ATTRIBUTES
    from stylegan_edit.latents import LatentSpace
    from stylegan_edit.metrics.separability import measure_separability

    device = pick_device(device)
    generator = load_generator(resolve_network(network_spec), device=device)
    scorer = _attribute_scorer(_classifier(classifier_path, device), ATTRIBUTES)
    if progress:
        click.echo(f"sampling and classifying {num} images ...", err=True)
    results = measure_separability(generator, scorer, num, names=ATTRIBUTES, seed=seed, batch_size=batch_size)
    spaces = [LatentSpace.Z, LatentSpace.W] if space == "both" else [LatentSpace(space)]
    click.echo(f"linear separability over {num} samples (lower is better, 1 is perfect)")
    click.echo(f"{'space':<16}" + "".join(f"{s.value:>10}" for s in spaces))
    click.echo(f"{'score':<16}" + "".join(f"{results[s].score:>10.3f}" for s in spaces))
    for name in ATTRIBUTES:
        click.echo(f"H({name})".ljust(16) + "".join(f"{results[s].entropies[name]:>10.4f}" for s in spaces))
    _write_json(
        json_path,
        {
            "metric": "separability",
            "network": network_spec or "synthfaces-64",
            "num": num,
            **{s.value: {"score": results[s].score, "entropies": results[s].entropies} for s in spaces},
        },
    )


@metrics.command(name="edit-fidelity")
@_network_option
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
@_common_options
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

    from stylegan_edit.bundled import resolve_network
    from stylegan_edit.checkpoints import load_generator
    from stylegan_edit.data.factors import ATTRIBUTES
    from stylegan_edit.editors.direction import bundled_directions, load_direction, resolve_direction
    from stylegan_edit.editors.sampling import sample_z
    from stylegan_edit.metrics.fidelity import conditional_variants, measure_edit_fidelity

    if len(set(strengths)) < 2:
        raise click.BadParameter("give at least two strengths, e.g. -2:2:3", param_hint="'--strength'")
    device = pick_device(device)
    generator = load_generator(resolve_network(network_spec), device=device)
    classifier = _classifier(classifier_path, device)
    names = classifier.attribute_names
    paths = [resolve_direction(s) for s in direction_specs] or list(bundled_directions().values())
    if not paths:
        raise click.UsageError("no bundled directions in this installation; pass --directions NAME|FILE")
    found = [load_direction(p, generator=generator) for p in paths]
    unknown = [c for c in conditions if c not in {d.name for d in found}]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not among the --directions", param_hint="'--condition'")
    rows = found + conditional_variants(found, conditions or None)
    z = sample_z(generator, num, seed=seed)
    scorer = _attribute_scorer(classifier, names)
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
    _write_json(
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


@metrics.command()
@_network_option
@click.option("--space", type=click.Choice(["z", "w"]), default="w", show_default=True, help="Interpolation space.")
@click.option("--num", type=click.IntRange(min=2), default=1000, show_default=True, help="Paths to sample.")
@click.option(
    "--sampling", type=click.Choice(["full", "end"]), default="full", show_default=True, help="t in [0,1] or t=0."
)
@click.option("--epsilon", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True, help="Step.")
@_common_options
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
    from stylegan_edit.bundled import resolve_network
    from stylegan_edit.checkpoints import load_generator
    from stylegan_edit.invert.losses import FeatureLoss, lpips_weights_path
    from stylegan_edit.metrics.ppl import perceptual_path_length, ppl_distance

    device = pick_device(device)
    generator = load_generator(resolve_network(network_spec), device=device)
    if classifier_path is not None and not lpips_weights_path("vgg").is_file():
        distance: Any = FeatureLoss(_classifier(classifier_path, device).feature_maps, "classifier")
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
    _write_json(
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


@metrics.command(name="classifier")
@click.option("--num", type=click.IntRange(min=1), default=2000, show_default=True, help="Fresh faces per style.")
@click.option(
    "--seed-offset",
    type=click.IntRange(min=0),
    default=10_000_000,
    show_default=True,
    help="Seed of the first face (training used seeds below 2 x its --num).",
)
@click.option(
    "--classifier",
    "classifier_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Attribute classifier file.  [default: the bundled one]",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars.")
@friendly_errors
def classifier_accuracy(num: int, seed_offset: int, classifier_path: Path | None, progress: bool) -> None:
    """Accuracy of the attribute classifier on fresh SynthFaces renders of both styles."""
    from stylegan_edit.commands.classifier import format_accuracy
    from stylegan_edit.metrics.classifier_train import evaluate_classifier

    accuracy = evaluate_classifier(_classifier(classifier_path, "cpu"), num, seed_offset=seed_offset, progress=progress)
    click.echo(format_accuracy(accuracy, num, seed_offset))
