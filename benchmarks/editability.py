"""Editability of inverted codes: the bundled InterFaceGAN directions applied to W+ codes from encoders or projection.

e4e's claim (arXiv:2102.02766) is that codes kept near W edit better than pSp's free W+ codes, at some cost in
reconstruction. Per code set and direction this measures, with the bundled attribute classifier, the change of the
target attribute's logit per unit strength (higher: the edit does what it says) and the mean absolute change of the
other attributes' probabilities per unit strength (lower: it keeps the rest of the face), exactly as
`stylegan-edit metrics edit-fidelity` does for sampled latents. A reference row edits the generator's own samples
(W codes of random z), which the directions were fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from stylegan_edit.assets import bundled
from stylegan_edit.editors.direction import Direction, load_direction
from stylegan_edit.editors.sampling import sample_z
from stylegan_edit.generators import Generator
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.metrics.fidelity import EditFidelity, measure_edit_fidelity


@dataclass(frozen=True)
class EditabilityRow:
    """One code set: per-direction fidelity and the codes' mean distance of each layer from their layer mean."""

    codes: str
    fidelity: list[EditFidelity]
    layer_spread: float

    @property
    def mean_target_logit(self) -> float:
        return sum(f.target_logit for f in self.fidelity) / len(self.fidelity)

    @property
    def mean_leakage(self) -> float:
        return sum(f.mean_leakage for f in self.fidelity) / len(self.fidelity)


def layer_spread(latents: Latents) -> float:
    """Mean over codes and layers of `|w_i - mean_i w_i|` (0 for W codes, where every layer is the same)."""
    if latents.space is not LatentSpace.W_PLUS:
        return 0.0
    ws = latents.tensor.float()
    return float((ws - ws.mean(dim=1, keepdim=True)).norm(dim=-1).mean())


def load_bundled_directions(generator: Generator) -> list[Direction]:
    """The named direction library shipped with the package (InterFaceGAN, W), checked against `generator`."""
    return [load_direction(path, generator=generator) for path in bundled("direction").values()]


def measure_editability(
    generator: Generator,
    scorer: object,
    names: Sequence[str],
    directions: Sequence[Direction],
    code_sets: dict[str, Latents],
    *,
    strength: float,
    reference: int = 0,
) -> list[EditabilityRow]:
    """Edit each code set along each direction at -strength, 0, +strength and summarise.

    reference: how many of the generator's own samples (z seeds 0..) to add as the first row; 0 for none.
    """
    sets: dict[str, Latents] = {}
    if reference:
        with torch.no_grad():
            z = sample_z(generator, reference, seed=0)
            w = generator.mapping(z.to(generator.device))[:, 0]
        sets["generator samples (W, reference)"] = Latents(w, LatentSpace.W)
    sets.update(code_sets)
    strengths = (-strength, 0.0, strength)
    rows = []
    for label, codes in sets.items():
        fidelity = [
            measure_edit_fidelity(generator, scorer, names, d, codes, strengths, target=d.name)  # type: ignore[arg-type]
            for d in directions
        ]
        rows.append(EditabilityRow(label, fidelity, layer_spread(codes)))
    return rows


def print_editability(rows: Sequence[EditabilityRow], strength: float) -> None:
    """A Markdown table: per direction `logit change / leakage` per unit strength, then the means."""
    directions = [f.target for f in rows[0].fidelity]
    print(
        f"\nEditability (bundled directions at strengths -{strength:g}, 0, {strength:g}; per unit strength: target "
        "logit change / mean |probability change| of the other attributes)"
    )
    print("| codes | " + " | ".join(directions) + " | mean logit change | mean leakage | layer spread |")
    print("| --- | " + " | ".join("---:" for _ in directions) + " | ---: | ---: | ---: |")
    for row in rows:
        cells = " | ".join(f"{f.target_logit:.2f} / {f.mean_leakage:.3f}" for f in row.fidelity)
        print(
            f"| {row.codes} | {cells} | {row.mean_target_logit:.2f} | {row.mean_leakage:.3f} | {row.layer_spread:.3f} |"
        )
