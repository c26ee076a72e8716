"""Training options for StyleGAN2 config e (arXiv:1912.04958, §2 and appendix B) and the named presets.

Defaults follow NVIDIA's stylegan2-ada-pytorch (`train.py`, `training_loop.py`, `loss.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self

from stylegan_edit.files import JsonConfig
from stylegan_edit.generators.config import DiscriminatorConfig, GeneratorConfig
from stylegan_edit.training.augment import PIPELINES

AUGMENT_MODES = ("none", "fixed", "ada")


@dataclass(frozen=True)
class TrainingOptions(JsonConfig):
    """Everything that determines a training run, saved with its state so that `--resume` rebuilds it exactly.

    generator / discriminator: the architectures; their `img_resolution` is the training resolution.
    batch: images per optimiser step over all processes. lr, betas: Adam for both networks (NVIDIA's lazy
    regularisation corrects them by `interval / (interval + 1)`). gamma: R1 weight, applied every `r1_interval`
    discriminator steps. pl_*: path-length regularisation every `pl_interval` generator steps on `batch //
    pl_batch_shrink` images. mixing_prob: style-mixing regularisation. ema_kimg / ema_rampup: the generator EMA
    half-life in thousands of images, ramped up as `min(ema_kimg * 1000, cur_nimg * ema_rampup)`. The `*_kimg`
    intervals schedule sample grids, network snapshots and resumable state; 0 turns one off (the end of training
    still writes all three).

    Adaptive discriminator augmentation (arXiv:2006.06676): augment `none`, `fixed` (probability `aug_p`) or
    `ada` (starts at `aug_p`; every `ada_interval` steps `p` moves by `batch * ada_interval / (ada_kimg * 1000)`
    towards the value at which the share of positive D outputs on reals is `ada_target`); `augpipe` names the
    pipeline (`training.augment.PIPELINES`). freeze_d: FreezeD (arXiv:2002.10964), the first `freeze_d`
    discriminator blocks (the highest resolutions: b{res}, b{res/2}, ...) keep their weights.
    """

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    batch: int = 32
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    gamma: float = 10.0
    r1_interval: int = 16
    pl_interval: int = 4
    pl_weight: float = 2.0
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    mixing_prob: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float | None = 0.05
    xflip: bool = False
    total_kimg: float = 25000.0
    grid_kimg: float = 50.0
    snapshot_kimg: float = 200.0
    state_kimg: float = 50.0
    seed: int = 0
    augment: str = "none"
    aug_p: float = 0.0
    ada_target: float = 0.6
    ada_kimg: float = 500.0
    ada_interval: int = 4
    augpipe: str = "bgc"
    freeze_d: int = 0

    def __post_init__(self) -> None:
        if self.generator.img_resolution != self.discriminator.img_resolution:
            raise ValueError(
                f"generator and discriminator resolutions differ ({self.generator.img_resolution} vs "
                f"{self.discriminator.img_resolution})"
            )
        if self.generator.img_channels != self.discriminator.img_channels:
            raise ValueError("generator and discriminator must use the same number of image channels")
        if self.batch < 1:
            raise ValueError(f"batch must be positive, got {self.batch}")
        if min(self.r1_interval, self.pl_interval, self.pl_batch_shrink) < 1:
            raise ValueError("r1_interval, pl_interval and pl_batch_shrink must be at least 1")
        if self.lr <= 0 or min(self.gamma, self.pl_weight, self.ema_kimg) < 0:
            raise ValueError("lr must be positive; gamma, pl_weight and ema_kimg must not be negative")
        if not 0 <= self.mixing_prob <= 1 or not 0 <= self.pl_decay <= 1:
            raise ValueError("mixing_prob and pl_decay must lie in [0, 1]")
        if min(self.total_kimg, self.grid_kimg, self.snapshot_kimg, self.state_kimg) < 0:
            raise ValueError("total_kimg and the *_kimg intervals must not be negative")
        self._check_augmentation()

    def _check_augmentation(self) -> None:
        if self.augment not in AUGMENT_MODES:
            raise ValueError(f"unknown augment mode {self.augment!r} (known: {', '.join(AUGMENT_MODES)})")
        if self.augpipe not in PIPELINES:
            raise ValueError(f"unknown augmentation pipeline {self.augpipe!r} (known: {', '.join(PIPELINES)})")
        if not 0 <= self.aug_p <= 1 or not 0 <= self.ada_target <= 1:
            raise ValueError("aug_p and ada_target must lie in [0, 1]")
        if self.ada_kimg <= 0 or self.ada_interval < 1:
            raise ValueError("ada_kimg must be positive and ada_interval at least 1")
        if self.augment == "fixed" and self.aug_p == 0:
            raise ValueError("augment 'fixed' needs a probability aug_p above 0")
        if self.augment == "none" and self.aug_p > 0:
            raise ValueError("aug_p needs augment 'ada' or 'fixed'")
        blocks = len(self.discriminator.block_resolutions)
        if not 0 <= self.freeze_d <= blocks:
            raise ValueError(f"freeze_d must lie in [0, {blocks}] (the discriminator's blocks), got {self.freeze_d}")

    @property
    def resolution(self) -> int:
        return self.generator.img_resolution

    @property
    def mbstd_group_size(self) -> int:
        """The discriminator's minibatch-stddev group: how many images it compares (a resumable change)."""
        return self.discriminator.mbstd_group_size

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` to fields, or to `mbstd_group_size` (it changes no weight of the discriminator)."""
        group = changes.pop("mbstd_group_size", None)
        options = dataclasses.replace(self, **changes)
        if group is None:
            return options
        return dataclasses.replace(
            options, discriminator=dataclasses.replace(self.discriminator, mbstd_group_size=group)
        )


def synthfaces_64() -> TrainingOptions:
    """The bundled `synthfaces-64` model: 64 px, 128-d latents, at most 64 channels (0.46 M G + 0.37 M D weights).

    The channel counts are NVIDIA's layout (`channel_base / resolution`, capped) scaled down from 512 to 64 so
    that the model trains on a CPU: benchmarks/bench_train.py measured about 14.7 images/s on one core of the
    2-core development machine at batch 16 with the lazy regularisers (5.4 images/s at 128 channels, which would
    need about 50 hours for 1000 kimg). The procedural face domain has a handful of factors of variation, so the
    smaller network is enough, and four mapping layers suffice. The other hyperparameters follow
    stylegan2-ada's `auto` rules for 64 px at batch 16: gamma = 0.0002 * 64**2 / 16 ~ 0.05 and
    ema_kimg = 16 * 10 / 32 = 5 with a rampup of 0.05.
    """
    return TrainingOptions(
        generator=GeneratorConfig(
            img_resolution=64, z_dim=128, w_dim=128, mapping_layers=4, channel_base=2048, channel_max=64
        ),
        discriminator=DiscriminatorConfig(img_resolution=64, channel_base=2048, channel_max=64),
        batch=16,
        gamma=0.05,
        ema_kimg=5.0,
        total_kimg=1000.0,
        grid_kimg=10.0,
        snapshot_kimg=20.0,
        state_kimg=2.0,
    )


def tiny() -> TrainingOptions:
    """A 16 px network with at most 32 channels that takes milliseconds per step: for tests and smoke runs."""
    return TrainingOptions(
        generator=GeneratorConfig(
            img_resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32
        ),
        discriminator=DiscriminatorConfig(img_resolution=16, channel_base=256, channel_max=32),
        batch=4,
        gamma=0.1,
        ema_kimg=0.01,
        total_kimg=0.04,
        grid_kimg=0.02,
        snapshot_kimg=0.04,
        state_kimg=0.02,
    )


PRESETS = {"synthfaces-64": synthfaces_64, "tiny": tiny}


def preset(name: str) -> TrainingOptions:
    """The options of a named preset (`synthfaces-64`, `tiny`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown training config {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]()
