"""`stylegan-edit metrics fid | separability | edit-fidelity | ppl | classifier | identity | eqt`: quality and
editing metrics measured with the bundled SynthFaces attribute classifier, face identity between photos, and
StyleGAN3's translation equivariance."""

from __future__ import annotations

from pathlib import Path

import click

from stylegan_edit.cli.common import friendly_errors, pick_device
from stylegan_edit.cli.metrics_common import check_json, common_options, network_option, write_json
from stylegan_edit.cli.metrics_edits import edit_fidelity, ppl
from stylegan_edit.cli.metrics_eqt import eqt
from stylegan_edit.cli.options import classifier_option, progress_option, trunc_option


@click.group()
def metrics() -> None:
    """Measure generators and edits with the bundled attribute classifier, and face identity between photos."""


@metrics.command()
@network_option
@click.option(
    "--num",
    type=click.IntRange(min=2),
    default=5000,
    show_default=True,
    help="Images per set (generated, real, and the second real set of the baseline).",
)
@click.option(
    "--real",
    "real_spec",
    default=None,
    help="Real images: synthfaces:photo, synthfaces:toon (fresh renders) or a folder of images.  [default: the "
    "SynthFaces style the network records as its training data, else synthfaces:photo]",
)
@trunc_option
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
    from stylegan_edit.metrics.fid import FEATURE_SPACE
    from stylegan_edit.workflow.evaluation import fid as measure

    check_json(json_path)
    report = measure(
        network_spec,
        num=num,
        real=real_spec,
        truncation_psi=truncation_psi,
        classifier=classifier_path,
        seed=seed,
        batch_size=batch_size,
        device=pick_device(device),
        progress=progress,
    )
    result, resolution = report.result, report.resolution
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"FID in the {FEATURE_SPACE} (NOT Inception FID: compare it only with the real-vs-real baseline)")
    click.echo(f"real images: {report.real_description}; {result.num} images per set, at {resolution}x{resolution}")
    click.echo(f"FID generated vs real      {result.fid:10.4f}")
    click.echo(f"FID real vs real baseline  {result.baseline:10.4f}")
    click.echo(f"ratio                      {result.ratio:10.3f}")
    click.echo(f"{'attribute':<12}{'generated':>10}{'real':>8}{'diff':>8}")
    differences = result.frequency_differences()
    for name, g, r in zip(result.names, result.frequency_generated, result.frequency_real, strict=True):
        click.echo(f"{name:<12}{g:>10.3f}{r:>8.3f}{differences[name]:>+8.3f}")
    click.echo(f"{'label correlation':<26}{'generated':>10}{'real':>8}")
    for a, b, g, r in result.correlation_gaps():
        click.echo(f"{a + ' ~ ' + b:<26}{g:>+10.3f}{r:>+8.3f}")
    write_json(json_path, report.document())


@metrics.command()
@network_option
@click.option(
    "--space",
    type=click.Choice(["z", "w", "both"]),
    default="both",
    show_default=True,
    help="Latent space(s) to measure: z, w or both.",
)
@click.option(
    "--num", type=click.IntRange(min=4), default=10_000, show_default=True, help="Latents to sample and classify."
)
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
    from stylegan_edit.data.factors import ATTRIBUTES
    from stylegan_edit.workflow.evaluation import separability as measure

    check_json(json_path)
    if progress:
        click.echo(f"sampling and classifying {num} images ...", err=True)
    spaces = ["z", "w"] if space == "both" else [space]
    report = measure(
        network_spec,
        num=num,
        spaces=spaces,
        classifier=classifier_path,
        seed=seed,
        batch_size=batch_size,
        device=pick_device(device),
    )
    results = list(report.spaces.values())
    click.echo(f"linear separability over {num} samples (lower is better, 1 is perfect)")
    click.echo(f"{'space':<16}" + "".join(f"{s.value:>10}" for s in report.spaces))
    click.echo(f"{'score':<16}" + "".join(f"{r.score:>10.3f}" for r in results))
    for name in ATTRIBUTES:
        click.echo(f"H({name})".ljust(16) + "".join(f"{r.entropies[name]:>10.4f}" for r in results))
    write_json(json_path, report.document())


@metrics.command(name="classifier")
@click.option("--num", type=click.IntRange(min=1), default=2000, show_default=True, help="Fresh faces per style.")
@click.option(
    "--seed-offset",
    type=click.IntRange(min=0),
    default=10_000_000,
    show_default=True,
    help="Seed of the first face; `train-classifier` trains on seeds below 2 x its --num, so the default "
    "measures on faces it never saw.",
)
@classifier_option
@progress_option
@friendly_errors
def classifier_accuracy(num: int, seed_offset: int, classifier_path: Path | None, progress: bool) -> None:
    """Accuracy of the attribute classifier on fresh SynthFaces renders of both styles."""
    from stylegan_edit.cli.classifier import format_accuracy
    from stylegan_edit.workflow.classification import classifier_accuracy as measure

    accuracy = measure(classifier_path, num=num, seed_offset=seed_offset, progress=progress)
    click.echo(format_accuracy(accuracy, num, seed_offset))


@metrics.command(name="identity")
@click.argument("image_a", type=click.Path(exists=True, path_type=Path), metavar="A")
@click.argument("image_b", type=click.Path(exists=True, path_type=Path), metavar="B")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the results to this JSON file (its folder must exist; an existing file is overwritten).  "
    "[default: print only]",
)
@friendly_errors
def identity(image_a: Path, image_b: Path, json_path: Path | None) -> None:
    """Face identity of photo A against photo B (or of the same-named photos of folders A and B): the cosine
    similarity of dlib's face-recognition descriptors of the largest face in each, 1 for the same picture; dlib's
    same-person threshold is about 0.91, unrelated faces score about 0.75-0.9."""
    from stylegan_edit.workflow.identity import identity as measure

    check_json(json_path)
    report = measure(image_a, image_b)
    for note in report.notes:
        click.echo(f"note: {note}")
    if len(report.pairs) == 1 and not image_a.is_dir():
        click.echo(f"identity {report.pairs[0].similarity:.4f}  ({report.measure})")
    else:
        width = max(len(p.name) for p in report.pairs)
        for pair in report.pairs:
            score = "no face in " + ", ".join(map(str, pair.missing)) if pair.missing else f"{pair.similarity:.4f}"
            click.echo(f"{pair.name:<{width}}  {score}")
        found = sum(p.similarity is not None for p in report.pairs)
        click.echo(f"identity {report.mean:.4f}  (mean over {found} of {len(report.pairs)} pairs; {report.measure})")
    write_json(json_path, report.document())


metrics.add_command(edit_fidelity)
metrics.add_command(ppl)
metrics.add_command(eqt)
