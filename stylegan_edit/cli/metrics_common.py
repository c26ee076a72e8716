"""Options and helpers shared by the `stylegan-edit metrics` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from stylegan_edit.classifiers.attributes import AttributeClassifier
    from stylegan_edit.editors.sampling import Scorer

NETWORK_HELP = "Checkpoint (any supported format) or bundled name.  [default: synthfaces-64]"
REAL_SEED_OFFSET = 20_000_000  # far from training seeds (0 ..) and the classifier's held-out seeds (10,000,000 ..)


def network_option(func: Any) -> Any:
    return click.option("--network", "network_spec", default=None, help=NETWORK_HELP)(func)


def common_options(func: Any) -> Any:
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


def write_json(path: Path | None, document: dict[str, Any]) -> None:
    if path is None:
        return
    from stylegan_edit.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2))
    click.echo(f"wrote {path}")


def bundled_classifier(path: Path | None, device: str) -> AttributeClassifier:
    from stylegan_edit.classifiers.attributes import load_classifier

    return load_classifier(path, device=device)


def attribute_scorer(classifier: AttributeClassifier, names: tuple[str, ...]) -> Scorer:
    import torch

    columns = [classifier.index(n) for n in names]

    def score(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return classifier(images)[:, columns]

    return score
