"""Measuring edits and smoothness with the SynthFaces attribute classifier, as `stylegan-edit metrics
edit-fidelity | ppl` do: how cleanly directions move attributes, and perceptual path length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from stylegan_edit.assets import bundled, resolve
from stylegan_edit.classifiers.attributes import load_classifier
from stylegan_edit.data.factors import ATTRIBUTES
from stylegan_edit.editors.direction import load_direction
from stylegan_edit.editors.sampling import sample_z
from stylegan_edit.metrics.fidelity import EditFidelity, conditional_variants, measure_edit_fidelity
from stylegan_edit.metrics.ppl import PathLength, perceptual_path_length, ppl_distance
from stylegan_edit.workflow.evaluation import NetworkSpec, attribute_scorer, load_measured


@dataclass(frozen=True)
class EditFidelityReport:
    """Per direction (and conditional InterFaceGAN variant) its `EditFidelity`, over `num` faces and `strengths`."""

    network: str
    num: int
    strengths: tuple[float, ...]
    rows: tuple[EditFidelity, ...]

    def document(self) -> dict[str, Any]:
        """The JSON document `metrics edit-fidelity --json` writes."""
        rows = [
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
            for r in self.rows
        ]
        return {
            "metric": "edit-fidelity",
            "network": self.network,
            "num": self.num,
            "strengths": list(self.strengths),
            "rows": rows,
        }


def edit_fidelity(
    network: NetworkSpec = None,
    *,
    directions: Sequence[str | Path] = (),
    conditions: Sequence[str] = (),
    num: int = 200,
    strengths: Sequence[float] = (-2.0, 0.0, 2.0),
    classifier: str | Path | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = False,
) -> EditFidelityReport:
    """How far each direction moves its target attribute per unit strength, and its leakage into the others.

    directions: names or files (default: every bundled direction). InterFaceGAN directions also get a conditional
    row with the other InterFaceGAN directions (or those named in `conditions`) projected out; an InterFaceGAN
    direction named after an attribute targets it, any other is matched to the attribute it moves most.
    """
    if len(set(strengths)) < 2:
        raise ValueError("give at least two strengths, e.g. -2:2:3")
    loaded, name = load_measured(network, device)
    generator = loaded.generator
    scorer_model = load_classifier(classifier, device=device)
    names = scorer_model.attribute_names
    paths = [resolve("direction", s, search_dirs=("directions",)) for s in directions] or list(
        bundled("direction").values()
    )
    if not paths:
        raise ValueError("no bundled directions in this installation; pass directions by name or file")
    found = [load_direction(p, generator=generator) for p in paths]
    unknown = [c for c in conditions if c not in {d.name for d in found}]
    if unknown:
        raise ValueError(f"condition {unknown[0]!r} is not among the directions")
    rows = found + conditional_variants(found, list(conditions) or None)
    z = sample_z(generator, num, seed=seed)
    scorer = attribute_scorer(scorer_model, names)
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
    return EditFidelityReport(name, num, tuple(strengths), tuple(results))


@dataclass(frozen=True)
class PPLReport:
    """Perceptual path length: the result (its `distance_name` says which distance), and how it was sampled."""

    network: str
    space: str
    sampling: str
    epsilon: float
    num: int
    result: PathLength

    @property
    def distance_note(self) -> str:
        """What the distance was, in words (the classifier's is not comparable with LPIPS PPL)."""
        if self.result.distance_name == "classifier":
            return (
                "the attribute classifier's feature-map distance (no cached LPIPS weights): not comparable to LPIPS PPL"
            )
        return self.result.distance_name

    def document(self) -> dict[str, Any]:
        """The JSON document `metrics ppl --json` writes."""
        return {
            "metric": "ppl",
            "network": self.network,
            "space": self.space,
            "sampling": self.sampling,
            "epsilon": self.epsilon,
            "num": self.num,
            "distance": self.result.distance_name,
            "ppl": self.result.mean,
        }


def ppl(
    network: NetworkSpec = None,
    *,
    space: str = "w",
    num: int = 1000,
    sampling: str = "full",
    epsilon: float = 1e-4,
    classifier: str | Path | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = False,
) -> PPLReport:
    """Perceptual path length (StyleGAN paper) over `num` paths in `space` (`z` or `w`), `sampling` `full` or `end`.

    The distance: LPIPS-VGG when its torchvision weights are in the torch hub cache (never downloaded), else the
    feature-map distance of the attribute classifier (`classifier`, default the bundled one).
    """
    from stylegan_edit.perceptual.losses import FeatureLoss, lpips_weights_path

    loaded, name = load_measured(network, device)
    if classifier is not None and not lpips_weights_path("vgg").is_file():
        distance: Any = FeatureLoss(load_classifier(classifier, device=device).feature_maps, "classifier")
    else:
        distance = ppl_distance(device)
    result = perceptual_path_length(
        loaded.generator,
        distance,
        num,
        space=space,
        sampling=sampling,
        epsilon=epsilon,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
    )
    return PPLReport(name, space, sampling, epsilon, num, result)
