"""The projection presets: each a named, complete recipe (start, optimiser, steps, Adam's schedule), in one table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from stylegan_edit.invert.schedule import NVIDIA, REFINE, Schedule

Start = Literal["mean", "encoder"]
Optimizer = Literal["adam", "lbfgs"]

_STARTS = {"mean": "the mean W", "encoder": "the encoder's codes"}
_OPTIMIZERS = {"adam": "Adam", "lbfgs": "L-BFGS"}


@dataclass(frozen=True)
class Preset:
    """A projection recipe.

    start: `mean` (NVIDIA's mean W) or `encoder` (an encoder's W+ codes, refined). optimizer: `adam` (with the
    schedule fields: peak lr, its linear ramp-up and cosine ramp-down as fractions of the steps, and the initial
    latent noise times the W std) or `lbfgs` (a batched L-BFGS over the latents: no schedule, no latent noise,
    no noise maps; the schedule fields are None).
    """

    name: str
    description: str
    start: Start
    optimizer: Optimizer
    num_steps: int
    lr: float | None = None
    lr_rampup: float | None = None
    lr_rampdown: float | None = None
    latent_noise: float | None = None

    def __post_init__(self) -> None:
        if self.start not in _STARTS:
            raise ValueError(f"preset {self.name}: start must be mean or encoder, got {self.start!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"preset {self.name}: optimizer must be adam or lbfgs, got {self.optimizer!r}")
        if self.num_steps < 1:
            raise ValueError(f"preset {self.name}: num_steps must be at least 1, got {self.num_steps}")
        fields = (self.lr, self.lr_rampup, self.lr_rampdown, self.latent_noise)
        if self.optimizer == "adam" and None in fields:
            raise ValueError(f"preset {self.name}: Adam needs lr, lr_rampup, lr_rampdown and latent_noise")
        if self.optimizer == "lbfgs" and any(f is not None for f in fields):
            raise ValueError(f"preset {self.name}: L-BFGS takes no lr schedule or latent noise")

    @property
    def schedule(self) -> Schedule | None:
        """Adam's schedule (None for L-BFGS)."""
        if self.optimizer != "adam":
            return None
        return Schedule(self.lr, self.lr_rampup, self.lr_rampdown, self.latent_noise)  # type: ignore[arg-type]

    def describe(self, *, num_steps: int | None = None, start: str | None = None) -> str:
        """One line for the user, e.g. `preset nvidia: Adam from the mean W, 1000 steps, lr 0.1, ramp-up 0.05,
        ramp-down 0.25, latent noise 0.05`; num_steps / start: the steps run and the start used (in words), when
        not the preset's."""
        steps = self.num_steps if num_steps is None else num_steps
        origin = _STARTS[self.start] if start is None else start
        line = f"preset {self.name}: {_OPTIMIZERS[self.optimizer]} from {origin}, {steps} steps"
        schedule = self.schedule
        if schedule is not None:
            line += (
                f", lr {schedule.lr:g}, ramp-up {schedule.lr_rampup:g}, ramp-down {schedule.lr_rampdown:g}, "
                f"latent noise {schedule.latent_noise:g}"
            )
        return line


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="nvidia",
            description="NVIDIA's projector: Adam from the mean W, 1000 steps, NVIDIA's lr schedule and latent noise",
            start="mean",
            optimizer="adam",
            num_steps=1000,
            **asdict(NVIDIA),
        ),
        Preset(
            name="lbfgs",
            description="batched L-BFGS from the mean W, 200 steps (as good as NVIDIA's 1000 on SynthFaces)",
            start="mean",
            optimizer="lbfgs",
            num_steps=200,
        ),
        Preset(
            name="encoder-lbfgs",
            description="the encoder's codes refined by 100 L-BFGS steps",
            start="encoder",
            optimizer="lbfgs",
            num_steps=100,
        ),
        Preset(
            name="encoder-adam",
            description="the encoder's codes refined by 100 Adam steps (long ramp-up, no latent noise)",
            start="encoder",
            optimizer="adam",
            num_steps=100,
            **asdict(REFINE),
        ),
    )
}
DEFAULT_PRESET = "nvidia"


def get_preset(preset: str | Preset) -> Preset:
    """The preset of that name (a `Preset` is returned as is); a one-line `ValueError` naming the known ones."""
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    return PRESETS[preset]
