"""Batched L-BFGS for per-image objectives: every image of a batch keeps its own history and line search.

Nocedal & Wright, *Numerical Optimization* (2nd ed.), algorithm 7.4 (the two-loop recursion) with a backtracking
line search on the Armijo condition (algorithm 3.1). `torch.optim.LBFGS` sees one flat vector, so on a batch it
would mix curvature pairs and step lengths across images; here each image `i` of `x [N, ...]` is its own problem,
and every evaluation of the objective is one batched forward + backward pass in which each image evaluates its own
trial point. A budget of `k` evaluations therefore costs what `k` Adam steps do, and a batch gives the same result
as its images one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

# objective(x [N, ...]) -> (f [N], grad [N, ...]): per-image values and gradients at x.
Objective = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class LBFGSStep:
    """After one evaluation: `x` the accepted point of every image `[N, ...]`, `f` its objective `[N]`,
    `trial_f` the objective at the point just evaluated `[N]`, `accepted` whether that point was taken `[N]`, and
    `step_length` the step length of the point just evaluated `[N]` (0 for the start)."""

    evaluation: int
    x: Tensor
    f: Tensor
    trial_f: Tensor
    accepted: Tensor
    step_length: Tensor


class BatchedLBFGS:
    """Minimise a per-image objective with a fixed number of evaluations.

    history: curvature pairs kept per image (the full budget is best for short runs). armijo: the sufficient-
    decrease constant c1. shrink: the step-length factor after a rejected trial. max_step: the largest step length
    (1 is the quasi-Newton step; the first iteration scales it to `min(1, 1 / |g|_1)` like `torch.optim.LBFGS`).
    """

    def __init__(self, *, history: int = 100, armijo: float = 1e-4, shrink: float = 0.5, max_step: float = 1.0):
        if history < 1:
            raise ValueError(f"history must be at least 1, got {history}")
        if not 0 < armijo < 1 or not 0 < shrink < 1 or max_step <= 0:
            raise ValueError("need 0 < armijo < 1, 0 < shrink < 1 and max_step > 0")
        self.history = history
        self.armijo = armijo
        self.shrink = shrink
        self.max_step = max_step

    def steps(self, objective: Objective, x0: Tensor, num_evaluations: int) -> Iterator[LBFGSStep]:
        """Yield after each of `num_evaluations` evaluations; the first is at `x0` itself."""
        if num_evaluations < 1:
            raise ValueError(f"num_evaluations must be at least 1, got {num_evaluations}")
        shape = x0.shape
        num = shape[0]
        x = x0.detach().reshape(num, -1).clone()
        f, g = _flat(objective, x, shape)
        yield LBFGSStep(0, x.view(shape).clone(), f, f, torch.ones(num, dtype=torch.bool), torch.zeros(num))
        history = _History(num, x.shape[1], self.history, x)
        everyone = torch.ones(num, dtype=torch.bool, device=x.device)
        direction, gtd, step = self._new_direction(history, g, everyone, first=True)
        for evaluation in range(1, num_evaluations):
            trial = x + step[:, None] * direction
            tried = step.cpu()
            trial_f, trial_g = _flat(objective, trial, shape)
            accepted = torch.isfinite(trial_f) & (trial_f <= f + self.armijo * step * gtd)
            if bool(accepted.any()):
                history.push(accepted, trial - x, trial_g - g)
                x = torch.where(accepted[:, None], trial, x)
                f = torch.where(accepted, trial_f, f)
                g = torch.where(accepted[:, None], trial_g, g)
                new_direction, new_gtd, new_step = self._new_direction(history, g, accepted, first=False)
                direction = torch.where(accepted[:, None], new_direction, direction)
                gtd = torch.where(accepted, new_gtd, gtd)
                step = torch.where(accepted, new_step, step)
            step = torch.where(accepted, step, step * self.shrink)
            yield LBFGSStep(evaluation, x.view(shape).clone(), f, trial_f, accepted.cpu(), tried)

    def _new_direction(
        self, history: _History, g: Tensor, update: Tensor, *, first: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Direction, its slope `g.d` and the initial step length; only the `update` images' are used. The first
        iteration (every image at once) and a restart after an uphill direction take the scaled step."""
        direction = -history.inverse_hessian_times(g)
        gtd = (g * direction).sum(1)
        uphill = update & ~(gtd < 0)  # also NaN: fall back to steepest descent and forget that image's pairs
        if bool(uphill.any()):
            history.forget(uphill)
            direction = torch.where(uphill[:, None], -g, direction)
            gtd = torch.where(uphill, -(g * g).sum(1), gtd)
        restart = torch.ones_like(uphill) if first else uphill
        scaled = torch.clamp(1.0 / g.abs().sum(1).clamp_min(1e-30), max=1.0) * self.max_step
        step = torch.where(restart, scaled, torch.full_like(gtd, self.max_step))
        return direction, gtd, step


def _flat(objective: Objective, x: Tensor, shape: torch.Size) -> tuple[Tensor, Tensor]:
    f, g = objective(x.view(shape))
    return f.detach(), g.detach().reshape(shape[0], -1)


class _History:
    """Per-image curvature pairs in a shared ring; a pair that fails `s.y > 0` is masked out for its image."""

    def __init__(self, num: int, dim: int, size: int, like: Tensor) -> None:
        self.s = like.new_zeros(size, num, dim)
        self.y = like.new_zeros(size, num, dim)
        self.rho = like.new_zeros(size, num)
        self.valid = torch.zeros(size, num, dtype=torch.bool, device=like.device)
        self.order: list[int] = []  # slots, oldest first
        self.size = size

    def push(self, mask: Tensor, s: Tensor, y: Tensor) -> None:
        sy = (s * y).sum(1)
        keep = mask & (sy > 1e-10)
        if not bool(keep.any()):
            return
        slot = self.order.pop(0) if len(self.order) == self.size else len(self.order)
        self.order.append(slot)
        self.s[slot] = torch.where(keep[:, None], s, 0.0)
        self.y[slot] = torch.where(keep[:, None], y, 0.0)
        self.rho[slot] = torch.where(keep, 1.0 / sy.clamp_min(1e-10), 0.0)
        self.valid[slot] = keep

    def forget(self, mask: Tensor) -> None:
        self.valid &= ~mask[None, :]
        self.rho *= self.valid

    def inverse_hessian_times(self, g: Tensor) -> Tensor:
        q = g.clone()
        alphas = []
        for slot in reversed(self.order):
            alpha = self.rho[slot] * (self.s[slot] * q).sum(1)
            q = q - alpha[:, None] * self.y[slot]
            alphas.append(alpha)
        gamma = torch.ones_like(g[:, 0])
        found = torch.zeros_like(gamma, dtype=torch.bool)
        for slot in reversed(self.order):  # newest valid pair of each image: the initial scale s.y / y.y
            take = self.valid[slot] & ~found
            yy = (self.y[slot] * self.y[slot]).sum(1).clamp_min(1e-30)
            gamma = torch.where(take, (self.s[slot] * self.y[slot]).sum(1) / yy, gamma)
            found = found | take
        r = q * gamma[:, None]
        for slot, alpha in zip(self.order, reversed(alphas), strict=True):
            beta = self.rho[slot] * (self.y[slot] * r).sum(1)
            r = r + (alpha - beta)[:, None] * self.s[slot]
        return r
