"""The projector's schedules: learning-rate ramp-up / cosine ramp-down and the decaying latent noise.

Both follow NVIDIA's stylegan2-ada-pytorch `projector.py` (and rosinality's, which uses the same constants).
"""

from __future__ import annotations

import math


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
