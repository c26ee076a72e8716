"""Edit fidelity, measured with attribute classifiers: how far an edit moves its target attribute per unit of
strength, and how much it leaks into every other attribute (the disentanglement InterFaceGAN's conditional
manipulation targets, arXiv:2005.09635 §2.2). Unsupervised components (GANSpace, SeFa) are matched to the
attribute they move most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from stylegan_edit.editors.direction import Direction
from stylegan_edit.editors.edit import LinearEdit
from stylegan_edit.editors.sampling import Scorer
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace


@dataclass(frozen=True)
class EditFidelity:
    """One direction's effect per unit strength, averaged over samples.

    target_logit / target_probability: mean slope of the target's logit / probability (positive: the edit adds
    the attribute); leakage: per other head, the mean absolute slope of its probability; flipped: the direction
    was negated so that it raises its matched target.
    """

    direction: str
    method: str
    target: str
    target_logit: float
    target_probability: float
    leakage: dict[str, float]
    flipped: bool = False

    @property
    def mean_leakage(self) -> float:
        return sum(self.leakage.values()) / len(self.leakage) if self.leakage else 0.0


@torch.no_grad()
def edit_scores(
    generator: AnyGenerator,
    scorer: Scorer,
    codes: Tensor | Latents,
    direction: Direction,
    strengths: Sequence[float],
    *,
    batch_size: int = 32,
    noise_mode: str = "const",
) -> Tensor:
    """Logits `[len(strengths), N, K]` of the images of `codes` edited along `direction` at each strength.

    codes: z `[N, z_dim]` (a plain tensor or Z `Latents`), or W / W+ `Latents` such as an encoder's or a projection's
    codes. A Z direction edits z before the mapping (so it needs z codes); a W or W+ direction edits the W / W+ codes,
    on its own layers.
    """
    direction.check_generator(generator)
    latents = codes if isinstance(codes, Latents) else Latents(codes, LatentSpace.Z)
    if direction.space is LatentSpace.Z and latents.space is not LatentSpace.Z:
        raise ValueError(f"direction {direction.name!r} lives in Z; these codes are {latents.space.value}")
    out = []
    for strength in strengths:
        edit = LinearEdit(direction, float(strength))
        scores = []
        for start in range(0, len(latents), batch_size):
            part = Latents(latents.tensor[start : start + batch_size].to(generator.device), latents.space)
            if direction.space is LatentSpace.Z:
                ws = generator.mapping(edit(part).tensor)
            else:
                if part.space is LatentSpace.Z:
                    part = Latents(generator.mapping(part.tensor)[:, 0], LatentSpace.W)
                ws = edit(part, num_ws=generator.num_ws).to_w_plus(generator.num_ws).tensor
            images = generator.synthesis(ws, noise_mode=noise_mode)
            scores.append(torch.as_tensor(scorer(images)).detach().to("cpu", torch.float32))
        out.append(torch.cat(scores))
    return torch.stack(out)


def _slopes(values: Tensor, strengths: Tensor) -> Tensor:
    """Least-squares slope per sample and head of `values [S, N, K]` against `strengths [S]` -> `[N, K]`."""
    centred = strengths - strengths.mean()
    return torch.einsum("s,snk->nk", centred, values - values.mean(dim=0)) / centred.square().sum()


def fidelity_from_scores(
    logits: Tensor,
    strengths: Sequence[float],
    names: Sequence[str],
    *,
    direction: str,
    method: str,
    target: str | None = None,
    candidates: Sequence[str] | None = None,
) -> EditFidelity:
    """Summarise logits `[S, N, K]` over `strengths` (at least two distinct values).

    target: the attribute the edit is meant to move; None matches it to the candidate (default: every head)
    whose probability moves most, and orients the direction so that it raises that attribute.
    """
    values = torch.as_tensor(logits, dtype=torch.float64)
    s = torch.as_tensor(list(strengths), dtype=torch.float64)
    if values.ndim != 3 or values.shape[0] != len(s) or values.shape[2] != len(names):
        raise ValueError(f"logits must be [{len(s)}, N, {len(names)}], got {list(values.shape)}")
    if len(set(s.tolist())) < 2:
        raise ValueError("edit fidelity needs at least two different strengths")
    logit_slopes = _slopes(values, s).mean(dim=0)
    probability_slopes = _slopes(torch.sigmoid(values), s)
    mean_probability = probability_slopes.mean(dim=0)
    flipped = False
    if target is None:
        pool = list(candidates) if candidates is not None else list(names)
        unknown = [c for c in pool if c not in names]
        if unknown:
            raise ValueError(f"unknown attribute {unknown[0]!r} (known: {', '.join(names)})")
        target = max(pool, key=lambda c: abs(float(mean_probability[list(names).index(c)])))
        flipped = float(mean_probability[list(names).index(target)]) < 0
    elif target not in names:
        raise ValueError(f"unknown attribute {target!r} (known: {', '.join(names)})")
    sign = -1.0 if flipped else 1.0
    column = list(names).index(target)
    leakage = {name: float(probability_slopes[:, k].abs().mean()) for k, name in enumerate(names) if name != target}
    return EditFidelity(
        direction=direction,
        method=method,
        target=target,
        target_logit=sign * float(logit_slopes[column]),
        target_probability=sign * float(mean_probability[column]),
        leakage=leakage,
        flipped=flipped,
    )


def measure_edit_fidelity(
    generator: AnyGenerator,
    scorer: Scorer,
    names: Sequence[str],
    direction: Direction,
    codes: Tensor | Latents,
    strengths: Sequence[float],
    *,
    target: str | None = None,
    candidates: Sequence[str] | None = None,
    batch_size: int = 32,
) -> EditFidelity:
    """Edit the images of `codes` (z, or W / W+ latents: `edit_scores`) along `direction`, score them (logits
    `[N, len(names)]`), and summarise.

    target: None for an unsupervised component (matched among `candidates`); else the attribute's name.
    """
    logits = edit_scores(generator, scorer, codes, direction, strengths, batch_size=batch_size)
    return fidelity_from_scores(
        logits,
        strengths,
        names,
        direction=direction.name,
        method=direction.method,
        target=target,
        candidates=candidates,
    )


def conditional_variants(directions: Sequence[Direction], conditions: Sequence[str] | None = None) -> list[Direction]:
    """For each InterFaceGAN direction, its conditional version with the other InterFaceGAN directions (or only
    those named in `conditions`) projected out; named `<name>|<cond1>,<cond2>`."""
    from stylegan_edit.editors.interfacegan import conditional_direction

    interfacegan = [d for d in directions if d.method == "interfacegan"]
    out = []
    for primary in interfacegan:
        others = [
            d
            for d in interfacegan
            if d is not primary and d.space is primary.space and (conditions is None or d.name in conditions)
        ]
        if others:
            conditional = conditional_direction(primary, others)
            out.append(replace(conditional, name=f"{primary.name}|{','.join(d.name for d in others)}"))
    return out
