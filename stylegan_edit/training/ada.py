"""The ADA controller (Karras et al. 2020, arXiv:2006.06676, §3): the overfitting heuristic
`r_t = E[sign(D(real))]` over the last `interval` steps moves the augmentation probability `p` towards the value
at which `r_t` stays at `target`, by `batch * interval / (ada_kimg * 1000)` per adjustment, never below 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from stylegan_edit.training.augment import AugmentPipe, augment_pipeline
from stylegan_edit.training.options import TrainingOptions


class AdaController:
    """Accumulates the signs of D's real logits and adjusts `p` every `interval` steps.

    target: the wanted `r_t` (0.6 in the paper). ada_kimg: thousands of images for `p` to move by 1 (500; 100
    when fine-tuning). Learned state: `signs_` (sum of signs, count) since the last adjustment and `last_rt_`.
    """

    def __init__(self, *, target: float = 0.6, ada_kimg: float = 500.0, interval: int = 4) -> None:
        if not 0 <= target <= 1 or ada_kimg <= 0 or interval < 1:
            raise ValueError("ADA needs a target in [0, 1], a positive ada_kimg and an interval of at least 1")
        self.target = target
        self.ada_kimg = ada_kimg
        self.interval = interval
        self.signs_ = torch.zeros(2, dtype=torch.float64)
        self.last_rt_: float | None = None

    def accumulate(self, real_logits: Tensor) -> None:
        """Add the signs of D's logits `[N, 1]` for (augmented) real images."""
        signs = real_logits.detach().sign().to("cpu", torch.float64)
        self.signs_ += torch.stack([signs.sum(), torch.tensor(float(signs.numel()), dtype=torch.float64)])

    def adjust(self, p: float, step: int, batch: int, *, average: Callable[[Tensor], Tensor] = lambda t: t) -> float:
        """The new `p` after finished step number `step` (1-based count of steps done): changed every `interval`
        steps by `sign(r_t - target) * batch * interval / (ada_kimg * 1000)`, clamped at 0; unchanged otherwise.

        `average` turns this process's mean sign into the mean over all processes (identity in one process).
        """
        if step % self.interval or self.signs_[1] == 0:
            return p
        local_mean = (self.signs_[0:1] / self.signs_[1]).to(torch.float32)
        rt = float(average(local_mean)[0])
        self.signs_.zero_()
        self.last_rt_ = rt
        step_size = batch * self.interval / (self.ada_kimg * 1000)
        direction = int(rt > self.target) - int(rt < self.target)
        return max(p + direction * step_size, 0.0)

    def state_dict(self) -> dict[str, Any]:
        return {"signs": self.signs_.clone(), "last_rt": self.last_rt_}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        signs = state["signs"]
        if not isinstance(signs, Tensor) or signs.shape != (2,):
            raise ValueError("the training state's ADA statistics are malformed")
        self.signs_ = signs.to(torch.float64).clone()
        last = state.get("last_rt")
        self.last_rt_ = float(last) if isinstance(last, int | float) else None


class Augmentation:
    """What D's inputs go through: the pipeline (`pipe`) and, for `mode` `ada`, the controller that tunes its `p`.

    Build it with `from_options`. Its resumable state is `p` and the controller's statistics (`state_dict`).
    """

    def __init__(self, pipe: AugmentPipe, controller: AdaController | None = None) -> None:
        self.pipe = pipe
        self.controller = controller

    @classmethod
    def from_options(cls, options: TrainingOptions, device: torch.device) -> Augmentation | None:
        """The run's augmentation, or None for `augment` `none`."""
        if options.augment == "none":
            return None
        pipe = augment_pipeline(options.augpipe, p=options.aug_p).to(device)
        controller = None
        if options.augment == "ada":
            controller = AdaController(
                target=options.ada_target, ada_kimg=options.ada_kimg, interval=options.ada_interval
            )
        return cls(pipe, controller)

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    def __call__(self, images: Tensor, generator: torch.Generator | None) -> Tensor:
        return self.pipe(images, generator=generator)

    def observe(self, real_logits: Tensor) -> None:
        """D's logits `[N, 1]` for augmented reals, for the overfitting heuristic."""
        if self.controller is not None:
            self.controller.accumulate(real_logits)

    def step_done(self, step: int, batch: int, *, average: Callable[[Tensor], Tensor] = lambda t: t) -> None:
        """After `step` finished steps of `batch` images: let the controller adjust `p`."""
        if self.controller is not None:
            self.pipe.p.fill_(self.controller.adjust(self.p, step, batch, average=average))

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"augment_p": self.p}
        if self.controller is not None:
            state["ada"] = self.controller.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `p` (and the controller) from a training state that `state_dict` went into."""
        if "augment_p" not in state:
            raise ValueError("the training state has no augmentation probability (augment_p)")
        self.pipe.p.fill_(float(state["augment_p"]))
        if self.controller is not None:
            if "ada" not in state:
                raise ValueError("the training state has no ADA statistics")
            self.controller.load_state_dict(state["ada"])
