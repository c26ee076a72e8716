"""What the inversion workflow returns: the `Inversion` of a batch of photos (with, after pivotal tuning, the tuned
generator: PTI, arXiv:2106.05744), the progress events a projection reports while it runs, and the events and
summary of a folder's inversion (`workflow.folders`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from stylegan_edit.generators import AnyGenerator
from stylegan_edit.invert.projector import ProjectionStep
from stylegan_edit.latents import Latents
from stylegan_edit.perceptual.choice import LossChoice
from stylegan_edit.workflow.presets import Preset


@dataclass(frozen=True, eq=False)
class Tuning:
    """The generator tuned around an inversion's latents (the pivots) by Pivotal Tuning Inversion.

    generator: the tuned copy (one for all images, in eval mode); base: the generator it was tuned from (unchanged);
    base_spec: the base as it resolves from any folder (a bundled name or an absolute path; None when it was
    passed as an object); num_steps: the updates made, of at most `max_steps`; converged: stopped because every
    image's LPIPS reached PTI's threshold; lr: Adam's; first_layer: the first W+ layer whose weights were tuned;
    tuned: the parameter names tuned and num_weights their element count; pivot_images / pivot_metrics: the base's
    reconstruction of the pivots `[N, 3, H, W]` and its metrics (per image `[N]`); loss_history: the minimised loss
    per step `[num_steps, N]`; seconds: the tuning's wall time.
    """

    generator: AnyGenerator
    base: AnyGenerator
    base_spec: str | None
    num_steps: int
    max_steps: int
    converged: bool
    lr: float
    first_layer: int
    tuned: tuple[str, ...]
    num_weights: int
    pivot_images: Tensor
    pivot_metrics: dict[str, Tensor]
    loss_history: Tensor
    seconds: float


@dataclass(frozen=True, eq=False)
class Inversion:
    """Photos inverted into a generator's latents (every tensor on the CPU).

    latents: one code per image; images: the reconstructions `[N, 3, H, W]` in [-1, 1]; targets: what was
    inverted, the same shape; metrics: per-image `mse`, `psnr`, `ssim` and, when a perceptual distance is
    available, `perceptual` (each `[N]`); noise: the optimised noise maps `[N, 1, r, r]` per layer (empty when
    not optimised); loss: the objective chosen (its `metric` gave `perceptual`); loss_history: the minimised
    loss per step `[num_steps, N]`; frames: reconstructions `[N, 3, H, W]` at the recorded steps; num_ws: the
    generator's W+ layers (to write W codes as NVIDIA's projected_w.npz); preset: the
    projection recipe (None for `encode`); num_steps: the steps run (0 for `encode`); objective: the loss in
    words (`1*disc + 0.1*mse`, empty for `encode`); network: the name or path the network was
    loaded from (None when passed as an object); encoder / encoder_arch: the encoder that gave the codes or the
    start; iterations: the ReStyle iterations it ran (None for a one-pass encoder, or no encoder); seed: image
    k drew its randomness from `seed + k`; seconds: the optimisation's (or the encoder's) wall time; notes: what
    was done to each photo before inverting it (`photo.png: aligned from 512x512 (face 1 of 2) to 64x64`; empty
    for tensor targets); tuning: the pivotal tuning of the generator around the latents (None: not tuned); when
    present, images and metrics are the tuned generator's.
    """

    latents: Latents
    images: Tensor
    targets: Tensor
    metrics: dict[str, Tensor]
    noise: list[Tensor]
    loss: LossChoice
    loss_history: Tensor
    frames: dict[int, Tensor]
    num_ws: int
    preset: Preset | None = None
    num_steps: int = 0
    objective: str = ""
    network: str | None = None
    encoder: str | None = None
    encoder_arch: str | None = None
    iterations: int | None = None
    seed: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    tuning: Tuning | None = None


@dataclass(frozen=True)
class ProjectionStart:
    """Sent once before any optimisation: what runs and what was done to each photo, as lines for the user
    (`lines`: the preset, the loss, then one note per photo)."""

    preset: Preset
    num_steps: int
    start: str
    loss: LossChoice
    num_images: int
    notes: tuple[str, ...] = ()

    @property
    def lines(self) -> list[str]:
        return [self.preset.describe(num_steps=self.num_steps, start=self.start), self.loss.describe(), *self.notes]


@dataclass(frozen=True)
class ProjectionProgress:
    """One optimisation step of the batch of images `first` to `first + count - 1` (of `num_images`)."""

    step: ProjectionStep
    first: int
    count: int
    num_images: int


ProjectionEvent = ProjectionStart | ProjectionProgress


@dataclass(frozen=True)
class FolderStart:
    """Sent once every process has listed the folder: `num_images` in it, `num_finished` of them done by an
    earlier run (skipped), `num_here` of the rest that this process (`rank` of `world_size`) inverts."""

    num_images: int
    num_finished: int
    num_here: int
    rank: int
    world_size: int


@dataclass(frozen=True)
class FolderBatch:
    """Sent after each batch of this process: the names of the images written, a line per image (`name: MSE ...
    -> folder`), what was done to each photo, and the photos that could not be read or aligned (`path: why`; not
    written)."""

    names: tuple[str, ...]
    lines: tuple[str, ...]
    notes: tuple[str, ...]
    failed: tuple[str, ...]


FolderEvent = FolderStart | FolderBatch


@dataclass(frozen=True)
class FolderRun:
    """A folder inverted: `num_images` listed, `num_skipped` finished before this run, `num_inverted` by this run
    (all processes), `failed` the names still without results; `combined`: the file of all finished images'
    latents in listing order (written by rank 0; None on other ranks or when no image is finished);
    `mean_metrics`: the finished images' mean `psnr`, `ssim`, ... (rank 0); `seconds`: the inversion's wall time
    from the first batch to the last process done; `network`: the name or path of the generator."""

    folder: Path
    outdir: Path
    num_images: int
    num_skipped: int
    num_inverted: int
    failed: tuple[str, ...]
    combined: Path | None
    mean_metrics: dict[str, float]
    seconds: float
    world_size: int
    network: str | None
