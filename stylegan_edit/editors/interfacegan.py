"""InterFaceGAN (arXiv:2005.09635): a linear SVM's unit normal separating confidently scored latents is the edit
direction; conditional manipulation projects other attributes' directions out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Self

import numpy as np
import torch
from torch import Tensor

from stylegan_edit.editors.direction import Direction, GeneratorSignature
from stylegan_edit.generators import AnyGenerator
from stylegan_edit.latents import Latents, LatentSpace


class InterFaceGAN:
    """Fit one direction per score column: the SVM normal between the top and bottom `extreme_fraction` of samples.

    The paper keeps the top and bottom 10K of 500K samples (`extreme_fraction=0.02` each side) and holds out 30%
    of them to report the SVM's accuracy. Directions are unit vectors oriented so that a positive strength raises
    the score.
    """

    def __init__(
        self,
        *,
        extreme_fraction: float = 0.02,
        validation_fraction: float = 0.3,
        svm_c: float = 1.0,
        max_iter: int = 10_000,
        random_state: int = 0,
    ) -> None:
        self.extreme_fraction = extreme_fraction
        self.validation_fraction = validation_fraction
        self.svm_c = svm_c
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(
        self,
        latents: Latents,
        scores: Tensor,
        *,
        names: Sequence[str] | None = None,
        generator: AnyGenerator | None = None,
    ) -> Self:
        """latents: Z `[N, z_dim]` or W `[N, w_dim]`; scores `[N]` or `[N, K]` (higher = more of the attribute).

        names: one per score column (default `attr0`, ...); generator: recorded in the directions.
        Sets `directions_` (K directions), `accuracies_` (validation accuracy, or training accuracy when
        `validation_fraction` is 0) and `num_extremes_` (samples kept per side).
        """
        from sklearn.svm import LinearSVC

        if latents.space is LatentSpace.W_PLUS:
            raise ValueError("InterFaceGAN fits in Z or W; W+ latents have one code per layer")
        if not 0 < self.extreme_fraction <= 0.5:
            raise ValueError(f"extreme_fraction must be in (0, 0.5], got {self.extreme_fraction}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        scores = torch.as_tensor(scores, dtype=torch.float32)
        if scores.ndim not in (1, 2) or scores.shape[0] != len(latents):
            raise ValueError(f"{len(latents)} latents but scores of shape {list(scores.shape)}; the counts must match")
        if scores.ndim == 1:
            scores = scores.unsqueeze(1)
        names = list(names) if names is not None else [f"attr{i}" for i in range(scores.shape[1])]
        if len(names) != scores.shape[1]:
            raise ValueError(f"{len(names)} names for {scores.shape[1]} score columns")
        x = latents.tensor.detach().cpu().double().numpy()
        num_extremes = round(self.extreme_fraction * len(latents))
        if num_extremes < 2:
            raise ValueError(f"{len(latents)} samples keep fewer than 2 extremes per side; sample more")
        rng = np.random.RandomState(self.random_state)
        signature = GeneratorSignature.of(generator) if generator is not None else None
        directions, accuracies = [], []
        for column, name in enumerate(names):
            order = np.argsort(scores[:, column].numpy(), kind="stable")
            chosen = np.concatenate([order[-num_extremes:], order[:num_extremes]])
            labels = np.concatenate([np.ones(num_extremes), np.zeros(num_extremes)]).astype(np.int64)
            perm = rng.permutation(len(chosen))
            num_val = int(len(chosen) * self.validation_fraction)
            val, train = perm[:num_val], perm[num_val:]
            svm = LinearSVC(C=self.svm_c, max_iter=self.max_iter, random_state=self.random_state)
            svm.fit(x[chosen[train]], labels[train])
            held_out = val if num_val > 0 else train
            accuracies.append(float(svm.score(x[chosen[held_out]], labels[held_out])))
            normal = torch.from_numpy(svm.coef_[0].copy())
            if float(normal.norm()) == 0:
                raise ValueError(f"the SVM for {name!r} found no separating direction (scores may be constant)")
            directions.append(
                Direction(
                    vector=(normal / normal.norm()).float(),
                    space=latents.space,
                    name=name,
                    method="interfacegan",
                    hyperparameters=self.get_params(),
                    statistics={"accuracy": accuracies[-1], "num_samples": float(len(latents))},
                    generator=signature,
                )
            )
        self.directions_ = directions
        self.accuracies_ = accuracies
        self.num_extremes_ = num_extremes
        return self

    def get_params(self) -> dict[str, float | int]:
        return {
            "extreme_fraction": self.extreme_fraction,
            "validation_fraction": self.validation_fraction,
            "svm_c": self.svm_c,
            "max_iter": self.max_iter,
            "random_state": self.random_state,
        }


def project_out(vector: Tensor, conditions: Sequence[Tensor]) -> Tensor:
    """The unit vector along `vector` minus its least-squares fit by `conditions` (all flattened to `[D]`).

    With one unit condition n2 this is the paper's `n1 - (n1 . n2) n2`, normalised; the result is orthogonal to
    every condition.
    """
    primary = vector.reshape(-1).double()
    if not conditions:
        raise ValueError("no condition directions to project out")
    basis = torch.stack([c.reshape(-1).double() for c in conditions], dim=1)
    if basis.shape[0] != primary.shape[0]:
        raise ValueError(f"condition directions have {basis.shape[0]} values, the primary {primary.shape[0]}")
    coefficients = torch.linalg.lstsq(basis, primary.unsqueeze(1)).solution
    residual = primary - (basis @ coefficients).squeeze(1)
    norm = residual.norm()
    if float(norm) < 1e-6 * float(primary.norm()):
        raise ValueError("the primary direction is a combination of the conditions; nothing is left to edit")
    return (residual / norm).to(vector.dtype).reshape(vector.shape)


def conditional_direction(primary: Direction, conditions: Sequence[Direction]) -> Direction:
    """`primary` with the `conditions` projected out (InterFaceGAN's conditional manipulation).

    Editing along the result leaves the conditions' attributes (to first order) unchanged: it is orthogonal to
    each condition's normal. All directions must share a space and shape.
    """
    for direction in (primary, *conditions):
        if direction.centre is not None:
            raise ValueError(
                f"{direction.name!r} is an axis whose edit sets a coordinate; conditions need linear edits"
            )
    for condition in conditions:
        if condition.space is not primary.space or condition.vector.shape != primary.vector.shape:
            raise ValueError(
                f"condition {condition.name!r} is a {condition.space.value} direction of shape "
                f"{list(condition.vector.shape)}; {primary.name!r} is {primary.space.value} "
                f"{list(primary.vector.shape)}"
            )
    vector = project_out(primary.vector, [c.vector for c in conditions])
    hyperparameters = dict(primary.hyperparameters, conditions=[c.name for c in conditions])
    return replace(primary, vector=vector, method=f"{primary.method}+conditional", hyperparameters=hyperparameters)
