"""The projector's schedules: learning-rate ramp-up / cosine ramp-down and the decaying latent noise.

Both follow NVIDIA's stylegan2-ada-pytorch `projector.py` (and rosinality's, which uses the same constants);
`REFINE` is this toolkit's schedule for a start that is already close (an encoder's codes, a latents file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """Peak lr, its linear ramp-up and cosine ramp-down (fractions of the steps), and the initial latent noise
    (times the W std, decaying to 0 over the first 75% of the steps)."""

    lr: float
    lr_rampup: float
    lr_rampdown: float
    latent_noise: float


NVIDIA = Schedule(lr=0.1, lr_rampup=0.05, lr_rampdown=0.25, latent_noise=0.05)
# From an encoder's codes Adam's first steps (about lr per coordinate, whatever the gradient) throw a good start
# away: a long ramp-up keeps them small, a short ramp-down leaves the higher lr for longer. Chosen on 20 held-out
# renders of the 920-kimg default model (pSp + 100 steps: 29.47 dB with NVIDIA's lr / ramps, 29.92 with these),
# checked on 100 others (README, Encoders). It moves codes further from W than NVIDIA's does: a little less
# editability for the fidelity.
REFINE = Schedule(lr=0.25, lr_rampup=0.2, lr_rampdown=0.05, latent_noise=0.0)


def learning_rate(t: float, *, lr: float, rampup: float, rampdown: float) -> float:
    """`lr * min(1, t / rampup) * (0.5 - 0.5 cos(pi * min(1, (1 - t) / rampdown)))` at progress `t` in [0, 1)."""
    ramp_up = min(1.0, t / rampup) if rampup > 0 else 1.0
    ramp_down = 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1.0 - t) / rampdown)) if rampdown > 0 else 1.0
    return lr * ramp_up * ramp_down


def latent_noise_scale(t: float, *, std: float, strength: float, ramp: float) -> float:
    """`std * strength * max(0, 1 - t / ramp)^2`: the scale of the Gaussian noise added to the latents."""
    if ramp <= 0:
        return 0.0
    return std * strength * max(0.0, 1.0 - t / ramp) ** 2
