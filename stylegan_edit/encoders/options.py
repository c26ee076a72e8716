"""Encoder training options (pSp arXiv:2008.00951, e4e arXiv:2102.02766), saved with the training state.

Loss weights follow the papers' face settings (pSp: L2 1, LPIPS 0.8; e4e adds the delta regulariser 2e-4 and the
latent adversarial loss 0.1 with R1 gamma 10); e4e's progressive schedule is shortened for a 64 px generator with
10 W+ layers. Synthetic images rendered from known codes add a latent loss the real images cannot give.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

from stylegan_edit.encoders.config import DEFAULT_ITERATIONS, EncoderConfig
from stylegan_edit.files import JsonConfig

# Options that may change when a run resumes: they schedule the run but do not change its trajectory.
RESUMABLE_CHANGES = ("total_steps", "val_every", "snapshot_every", "state_every")


@dataclass(frozen=True)
class EncoderTrainingOptions(JsonConfig):
    """Everything that determines an encoder training run.

    encoder: the architecture (its arch picks pSp or e4e). batch: images per step over all processes, of which
    `round(batch_per_process * synthetic_fraction)` per process are rendered by the generator from random z
    (style-mixed with `mixing_prob`). lr / betas: Adam for the encoder; d_lr: Adam for e4e's latent discriminator.
    Loss weights: `mse_weight` (pixel L2), `perceptual_weight` (the `perceptual` distance: `auto`, `lpips`, `disc`,
    a registered extractor, or `none`), `latent_weight` (L2 to the known codes of synthetic images),
    `w_norm_weight` (pSp's distance of the codes from the mean W), `delta_weight` (e4e's offset norms),
    `adv_weight` (e4e's latent adversarial loss; R1 weight `r1_gamma` every `r1_interval` steps). e4e enables
    the offset of layer 1 at step `progressive_start` and one more layer every `progressive_every` steps.
    The `*_every` intervals (in steps) schedule validation grids, encoder snapshots and resumable state; 0 turns
    one off (the end of training writes all three). iterations: a ReStyle encoder's passes per batch (the
    reference's `n_iters_per_batch`; each back-propagates its own loss, one optimiser step per batch).
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    batch: int = 8
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    synthetic_fraction: float = 0.5
    mixing_prob: float = 0.0
    mse_weight: float = 1.0
    perceptual: str = "auto"
    perceptual_weight: float = 0.8
    latent_weight: float = 1.0
    w_norm_weight: float = 0.0
    delta_weight: float = 0.0
    adv_weight: float = 0.0
    d_lr: float = 2e-5
    r1_gamma: float = 10.0
    r1_interval: int = 16
    progressive_start: int = 2000
    progressive_every: int = 500
    total_steps: int = 20000
    val_every: int = 500
    snapshot_every: int = 2000
    state_every: int = 500
    seed: int = 0
    iterations: int = DEFAULT_ITERATIONS

    def __post_init__(self) -> None:
        if self.batch < 1 or self.lr <= 0 or self.d_lr <= 0:
            raise ValueError("batch, lr and d_lr must be positive")
        if not 0 <= self.synthetic_fraction <= 1 or not 0 <= self.mixing_prob <= 1:
            raise ValueError("synthetic_fraction and mixing_prob must lie in [0, 1]")
        weights = (self.mse_weight, self.perceptual_weight, self.latent_weight, self.w_norm_weight)
        if min(*weights, self.delta_weight, self.adv_weight, self.r1_gamma) < 0:
            raise ValueError("loss weights must not be negative")
        if not (self.mse_weight or self.perceptual_weight or self.latent_weight):
            raise ValueError("mse_weight, perceptual_weight and latent_weight are all zero: nothing to learn from")
        if self.encoder.base_arch != "e4e" and (self.delta_weight or self.adv_weight):
            raise ValueError("delta_weight and adv_weight apply to e4e only")
        if self.r1_interval < 1 or self.progressive_every < 1 or self.progressive_start < 0:
            raise ValueError("r1_interval and progressive_every must be at least 1, progressive_start at least 0")
        if min(self.total_steps, self.val_every, self.snapshot_every, self.state_every) < 0:
            raise ValueError("total_steps and the *_every intervals must not be negative")
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}")

    @classmethod
    def for_encoder(cls, encoder: EncoderConfig, **changes: Any) -> Self:
        """The paper defaults for `encoder.arch` (pSp: W-norm 0.005; e4e: delta 2e-4, adversarial 0.1)."""
        if encoder.base_arch == "e4e":
            defaults: dict[str, Any] = {"delta_weight": 2e-4, "adv_weight": 0.1}
        else:
            defaults = {"w_norm_weight": 0.005}
        return cls(encoder=encoder, **{**defaults, **changes})

    @property
    def arch(self) -> str:
        return self.encoder.arch

    def num_offsets(self, step: int) -> int:
        """e4e's enabled offsets at `step`: 0 before `progressive_start`, then one more every `progressive_every`
        steps up to `num_ws - 1`. pSp has no schedule: every layer is always on (`num_ws - 1` as well)."""
        most = self.encoder.num_ws - 1
        if self.encoder.base_arch != "e4e":
            return most
        if step < self.progressive_start:
            return 0
        return min(most, 1 + (step - self.progressive_start) // self.progressive_every)

    @classmethod
    def of_encoder(cls, encoder: EncoderConfig, metadata: dict[str, str], **changes: Any) -> Self:
        """The options an encoder file was trained with (its `training_options` metadata, as snapshots write it;
        the paper defaults for its config when absent), with `changes` applied."""
        if "training_options" not in metadata:
            return cls.for_encoder(encoder, **changes)
        options = cls.from_json(metadata["training_options"])
        if options.encoder != encoder:
            raise ValueError("the encoder's training_options metadata describes another architecture")
        return options.replace(**changes)

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)
