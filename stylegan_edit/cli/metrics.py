"""`stylegan-edit metrics fid | separability | edit-fidelity | ppl | classifier`: quality and editing metrics
measured with the bundled SynthFaces attribute classifier."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stylegan_edit.cli.common import friendly_errors, pick_device
from stylegan_edit.cli.metrics_common import (
    REAL_SEED_OFFSET,
    attribute_scorer,
    bundled_classifier,
    common_options,
    network_option,
    write_json,
)
from stylegan_edit.cli.metrics_edits import edit_fidelity, ppl

if TYPE_CHECKING:
    pass


@click.group()
def metrics() -> None:
    """Measure generators and edits with the bundled attribute classifier."""


@metrics.command()
@network_option
@click.option("--num", type=click.IntRange(min=2), default=5000, show_default=True, help="Images per set.")
@click.option(
    "--real",
    "real_spec",
    default=None,
    help="Real images: synthfaces:photo, synthfaces:toon (fresh renders) or a folder of images.  [default: the "
    "SynthFaces style the network records as its training data, else synthfaces:photo]",
)
@click.option("--truncation-psi", type=float, default=1.0, show_default=True, help="Truncation of the samples.")
@common_options
@friendly_errors
def fid(
    network_spec: str | None,
    num: int,
    real_spec: str | None,
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

    from stylegan_edit.assets import resolve_network
    from stylegan_edit.data import SynthFaces
    from stylegan_edit.formats.native import load_network
    from stylegan_edit.metrics.fid import FEATURE_SPACE, classify_batches, compare, dataset_batches, generated_batches
    from stylegan_edit.training.data import ImageFolder

    if real_spec is not None:
        _synthfaces_style(real_spec)  # refuse a bad style before loading anything
    device = pick_device(device)
    network = load_network(resolve_network(network_spec), device=device)
    generator = network.generator
    if real_spec is None:  # a SynthFaces model is compared with the style it was trained on
        trained_on = network.metadata.get("data", "")
        real_spec = trained_on if trained_on in ("synthfaces:photo", "synthfaces:toon") else "synthfaces:photo"
    style = _synthfaces_style(real_spec)
    classifier = bundled_classifier(classifier_path, device)
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
    gaps = result.correlation_gaps()
    click.echo(f"{'label correlation':<26}{'generated':>10}{'real':>8}")
    for a, b, g, r in gaps:
        click.echo(f"{a + ' ~ ' + b:<26}{g:>+10.3f}{r:>+8.3f}")
    write_json(
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
            "label_correlation_gaps": [{"attributes": [a, b], "generated": g, "real": r} for a, b, g, r in gaps],
        },
    )


@metrics.command()
@network_option
@click.option(
    "--space", type=click.Choice(["z", "w", "both"]), default="both", show_default=True, help="Latent space(s)."
)
@click.option("--num", type=click.IntRange(min=4), default=10_000, show_default=True, help="Samples.")
@common_options
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
    from stylegan_edit.assets import resolve_network
    from stylegan_edit.data.factors import ATTRIBUTES
    from stylegan_edit.formats.native import load_generator
    from stylegan_edit.latents import LatentSpace
    from stylegan_edit.metrics.separability import measure_separability

    device = pick_device(device)
    generator = load_generator(resolve_network(network_spec), device=device)
    scorer = attribute_scorer(bundled_classifier(classifier_path, device), ATTRIBUTES)
    if progress:
        click.echo(f"sampling and classifying {num} images ...", err=True)
    results = measure_separability(generator, scorer, num, names=ATTRIBUTES, seed=seed, batch_size=batch_size)
    spaces = [LatentSpace.Z, LatentSpace.W] if space == "both" else [LatentSpace(space)]
    click.echo(f"linear separability over {num} samples (lower is better, 1 is perfect)")
    click.echo(f"{'space':<16}" + "".join(f"{s.value:>10}" for s in spaces))
    click.echo(f"{'score':<16}" + "".join(f"{results[s].score:>10.3f}" for s in spaces))
    for name in ATTRIBUTES:
        click.echo(f"H({name})".ljust(16) + "".join(f"{results[s].entropies[name]:>10.4f}" for s in spaces))
    write_json(
        json_path,
        {
            "metric": "separability",
            "network": network_spec or "synthfaces-64",
            "num": num,
            **{s.value: {"score": results[s].score, "entropies": results[s].entropies} for s in spaces},
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
    from stylegan_edit.classifiers.train import evaluate_classifier
    from stylegan_edit.cli.classifier import format_accuracy

    accuracy = evaluate_classifier(
        bundled_classifier(classifier_path, "cpu"), num, seed_offset=seed_offset, progress=progress
    )
    click.echo(format_accuracy(accuracy, num, seed_offset))


metrics.add_command(edit_fidelity)
metrics.add_command(ppl)


def _synthfaces_style(real_spec: str) -> str | None:
    """The style of a `synthfaces:STYLE` spec (None for a folder); refuses a style SynthFaces does not render."""
    from stylegan_edit.training.data import SYNTHFACES_PREFIX

    style = real_spec.removeprefix(SYNTHFACES_PREFIX) if real_spec.startswith(SYNTHFACES_PREFIX) else None
    if style is not None and style not in ("photo", "toon"):
        raise click.BadParameter(f"unknown SynthFaces style {style!r}", param_hint="'--real'")
    return style
