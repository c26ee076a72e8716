"""The StyleGAN2 trainer (arXiv:1912.04958, config e) with NVIDIA's phase schedule, one step at a time.

A step takes one batch and runs, as stylegan2-ada-pytorch's training loop does: G main, G path-length
regularisation (every `pl_interval` steps), D main, D R1 regularisation (every `r1_interval` steps), then the
generator EMA update and (ADA, arXiv:2006.06676) the augmentation probability's adjustment. Every image D sees
goes through the augmentation pipeline when one is on. Every random draw depends on (seed, step, phase, rank)
only, so resuming is exact.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from stylegan_edit.files import load_strict
from stylegan_edit.generators import Discriminator, Generator, Network
from stylegan_edit.training.ada import Augmentation
from stylegan_edit.training.data import step_loader
from stylegan_edit.training.distributed import Distributed
from stylegan_edit.training.losses import (
    PhaseRandom,
    discriminator_loss,
    generator_loss,
    path_length_penalty,
    r1_penalty,
    run_generator,
)
from stylegan_edit.training.options import TrainingOptions
from stylegan_edit.training.state import (
    capture_rng,
    check_resume_changes,
    check_resumed_options,
    restore_rng,
)

PHASE_G_MAIN, PHASE_G_REG, PHASE_D_MAIN, PHASE_D_REG, PHASE_DATA = range(5)
# The augmentation's draws have phases of their own, so a run without augmentation draws exactly what it drew
# before augmentation existed.
PHASE_AUG_G_FAKE, PHASE_AUG_D_FAKE, PHASE_AUG_D_REAL, PHASE_AUG_R1 = range(5, 9)
# Options that may change when a run resumes: the scheduling ones, which leave its trajectory alone; the batch
# (moving a run to a GPU, say): Adam keeps per-parameter state and the lazy intervals, EMA half-life and data order
# are defined per step or per image, so the run goes on where it was, with bigger steps; and the learning rate and
# R1 weight, the two knobs for a run that has turned unstable (Adam's moments carry over, the new lr replaces the
# saved one in both optimisers); the discriminator's minibatch-stddev group, for a run whose attribute mix has
# collapsed (it changes no weight); and the EMA half-life, which stylegan2-ada scales with the batch (G_ema goes on
# from its weights with the new decay).
RESUMABLE_CHANGES: tuple[str, ...] = ("total_kimg", "grid_kimg", "snapshot_kimg", "state_kimg", "batch", "lr", "gamma")
RESUMABLE_CHANGES += ("mbstd_group_size", "ema_kimg")
# ADA's target and speed steer how `p` moves from its saved value on; they change no weight (the mode, the
# pipeline, the starting p and the frozen D blocks define the run and stay).
RESUMABLE_CHANGES += ("ada_target", "ada_kimg")


@dataclass(frozen=True)
class StepStats:
    """What one step did. Losses are this process's batch means; penalties are None on steps without them."""

    step: int
    cur_nimg: int
    loss_g: float
    loss_d: float
    d_real: float
    d_fake: float
    r1_penalty: float | None
    pl_penalty: float | None
    batch: int
    seconds: float
    augment_p: float = 0.0

    @property
    def kimg(self) -> float:
        return self.cur_nimg / 1000

    @property
    def images_per_second(self) -> float:
        return self.batch / max(self.seconds, 1e-9)


def lazy_ratio(interval: int) -> float:
    """NVIDIA's lazy-regularisation correction: a regulariser every `interval` steps makes one more step per
    `interval`, so lr and betas are scaled by `interval / (interval + 1)`."""
    return interval / (interval + 1)


def lazy_adam(params: Iterator[nn.Parameter], lr: float, betas: tuple[float, float], interval: int) -> torch.optim.Adam:
    """Adam with NVIDIA's lazy-regularisation correction (`lazy_ratio`) applied to lr and betas."""
    ratio = lazy_ratio(interval)
    return torch.optim.Adam(params, lr=lr * ratio, betas=(betas[0] ** ratio, betas[1] ** ratio), eps=1e-8)


class Trainer:
    """Train a generator and discriminator on a dataset of images `[3, r, r]` in [-1, 1] (or `(image, label)`).

    `network` starts G, G_ema and D from a checkpoint (fine-tuning; its configs must equal the options'); without
    a discriminator D starts fresh. `distributed` (from `setup_distributed`) makes this process one replica of a
    data-parallel run and then decides the device; otherwise `device` does. Learned state: `generator`,
    `generator_ema`, `discriminator`, the optimisers, `pl_mean`, `step_index`, `cur_nimg` and the `augmentation`'s
    probability and statistics.
    """

    def __init__(
        self,
        options: TrainingOptions,
        dataset: Dataset[Any],
        *,
        network: Network | None = None,
        device: str | torch.device = "cpu",
        distributed: Distributed | None = None,
        num_workers: int = 0,
    ) -> None:
        self.options = options
        self.dataset = dataset
        self.distributed = distributed or Distributed(device=torch.device(device))
        self.device = self.distributed.device
        self.num_workers = num_workers
        world = self.distributed.world_size
        if options.batch % world:
            raise ValueError(f"batch {options.batch} must be divisible by the number of processes ({world})")
        self.batch_per_process = options.batch // world
        if self.batch_per_process // options.pl_batch_shrink < 1:
            raise ValueError(f"batch per process {self.batch_per_process} is too small for pl_batch_shrink")
        group = min(options.discriminator.mbstd_group_size, self.batch_per_process)
        if self.batch_per_process % group:
            raise ValueError(
                f"batch per process {self.batch_per_process} must be divisible by the D's mbstd group {group}"
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            generator = Generator(options.generator)
            discriminator = Discriminator(options.discriminator)
        if network is not None:
            if network.generator.config != options.generator:
                raise ValueError("the checkpoint's generator config differs from the training options")
            load_strict(generator, network.generator.state_dict(), "the fine-tuning checkpoint")
            if network.discriminator is not None:
                if network.discriminator.config != options.discriminator:
                    raise ValueError("the checkpoint's discriminator config differs from the training options")
                load_strict(discriminator, network.discriminator.state_dict(), "the fine-tuning checkpoint")
        self.generator = generator.to(self.device).train()
        self.discriminator = discriminator.to(self.device).train()
        self.distributed.broadcast_(self.generator)
        self.distributed.broadcast_(self.discriminator)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        frozen = options.discriminator.block_resolutions[: options.freeze_d]
        self._frozen_d = [p for res in frozen for p in getattr(self.discriminator, f"b{res}").parameters()]
        self.augmentation = Augmentation.from_options(options, self.device)
        self.g_optimizer = lazy_adam(self.generator.parameters(), options.lr, options.betas, options.pl_interval)
        self.d_optimizer = lazy_adam(self.discriminator.parameters(), options.lr, options.betas, options.r1_interval)
        self.pl_mean = torch.zeros([], device=self.device)
        self.step_index = 0
        self.cur_nimg = 0
        self._batches: Iterator[Tensor] | None = None

    def _random(self, phase: int) -> PhaseRandom:
        return PhaseRandom([self.options.seed, self.step_index, phase, self.distributed.rank], self.device)

    def _reals(self) -> Tensor:
        if self._batches is None:
            self._batches = step_loader(
                self.dataset,
                self.options.batch,
                seed=self.options.seed,
                start_step=self.step_index,
                rank=self.distributed.rank,
                world_size=self.distributed.world_size,
                num_workers=self.num_workers,
            )
        images = next(self._batches).to(self.device, torch.float32)
        expected = (self.options.generator.img_channels, self.options.resolution, self.options.resolution)
        if tuple(images.shape[1:]) != expected:
            raise ValueError(f"dataset images have shape {list(images.shape[1:])}, training needs {list(expected)}")
        if self.options.xflip:
            flip = self._random(PHASE_DATA).numpy.random(images.shape[0]) < 0.5
            mask = torch.from_numpy(flip).to(self.device)
            images = torch.where(mask[:, None, None, None], images.flip(3), images)
        return images

    def _augment(self, images: Tensor, phase: int) -> Tensor:
        """`images` as D sees them: through the augmentation pipeline (with this phase's draws) when it is on."""
        if self.augmentation is None:
            return images
        return self.augmentation(images, self._random(phase).torch)

    def _train_discriminator(self, trainable: bool) -> None:
        """Turn D's gradients on or off; the FreezeD blocks never get any."""
        self.discriminator.requires_grad_(trainable)
        for param in self._frozen_d:
            param.requires_grad_(False)

    @property
    def augment_p(self) -> float:
        """The current augmentation probability (0 without augmentation)."""
        return self.augmentation.p if self.augmentation is not None else 0.0

    def _z(self, rng: PhaseRandom, num: int) -> Tensor:
        return rng.randn([num, self.options.generator.z_dim])

    def _update(self, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.distributed.average_gradients_(module)
        optimizer.step()

    def step(self) -> StepStats:
        """One optimisation step for G and D on one batch, then the EMA update."""
        start = time.perf_counter()
        opts, G, D = self.options, self.generator, self.discriminator
        n = self.batch_per_process
        reals = self._reals()

        # G main: fool D; tracks w_avg.
        G.requires_grad_(True)
        self._train_discriminator(False)
        self.g_optimizer.zero_grad(set_to_none=True)
        rng = self._random(PHASE_G_MAIN)
        fakes, _ = run_generator(G, self._z(rng, n), rng, mixing_prob=opts.mixing_prob, update_w_avg=True)
        loss_g = generator_loss(D(self._augment(fakes, PHASE_AUG_G_FAKE))).mean()
        loss_g.backward()
        self.distributed.average_(G.mapping.w_avg)
        self._update(G, self.g_optimizer)

        pl_value = None
        if self.step_index % opts.pl_interval == 0 and opts.pl_weight > 0:
            self.g_optimizer.zero_grad(set_to_none=True)
            rng = self._random(PHASE_G_REG)
            images, ws = run_generator(G, self._z(rng, n // opts.pl_batch_shrink), rng, mixing_prob=opts.mixing_prob)
            penalty, self.pl_mean = path_length_penalty(
                images, ws, self.pl_mean, rng, pl_decay=opts.pl_decay, average=self.distributed.average_
            )
            # `images * 0` keeps every synthesis weight in the graph, so all replicas reduce the same gradients.
            loss = (images[:, 0, 0, 0] * 0 + penalty * opts.pl_weight).mean() * opts.pl_interval
            loss.backward()
            self._update(G, self.g_optimizer)
            pl_value = float(penalty.detach().mean())

        # D main: tell reals from fakes.
        G.requires_grad_(False)
        self._train_discriminator(True)
        self.d_optimizer.zero_grad(set_to_none=True)
        rng = self._random(PHASE_D_MAIN)
        with torch.no_grad():
            fakes, _ = run_generator(G, self._z(rng, n), rng, mixing_prob=opts.mixing_prob)
        fake_logits = D(self._augment(fakes, PHASE_AUG_D_FAKE))
        real_logits = D(self._augment(reals, PHASE_AUG_D_REAL))
        if self.augmentation is not None:
            self.augmentation.observe(real_logits)
        loss_d = discriminator_loss(real_logits, fake_logits)
        loss_d.backward()
        self._update(D, self.d_optimizer)

        r1_value = None
        if self.step_index % opts.r1_interval == 0 and opts.gamma > 0:
            self.d_optimizer.zero_grad(set_to_none=True)
            penalty, logits = r1_penalty(lambda images: D(self._augment(images, PHASE_AUG_R1)), reals)
            if self.augmentation is not None:  # stylegan2-ada counts the regularisation pass's signs too
                self.augmentation.observe(logits)
            loss = (logits.flatten() * 0 + penalty * (opts.gamma / 2)).mean() * opts.r1_interval
            loss.backward()
            self._update(D, self.d_optimizer)
            r1_value = float(penalty.detach().mean())

        self._update_ema()
        self.cur_nimg += opts.batch
        self.step_index += 1
        if self.augmentation is not None:
            average = self.distributed.average_
            self.augmentation.step_done(self.step_index, opts.batch, average=lambda t: average(t.to(self.device)).cpu())
        return StepStats(
            step=self.step_index - 1,
            cur_nimg=self.cur_nimg,
            loss_g=float(loss_g.detach()),
            loss_d=float(loss_d.detach()),
            d_real=float(real_logits.detach().mean()),
            d_fake=float(fake_logits.detach().mean()),
            r1_penalty=r1_value,
            pl_penalty=pl_value,
            batch=opts.batch,
            seconds=time.perf_counter() - start,
            augment_p=self.augment_p,
        )

    def ema_beta(self) -> float:
        """The EMA decay for the coming update: half-life `ema_kimg`, ramped up over the first images."""
        ema_nimg = self.options.ema_kimg * 1000
        if self.options.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * self.options.ema_rampup)
        return 0.5 ** (self.options.batch / max(ema_nimg, 1e-8))

    @torch.no_grad()
    def _update_ema(self) -> None:
        beta = self.ema_beta()
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs, as plain tensors, numbers and strings (see `state.save_state`)."""
        return {
            "options": self.options.to_json(),
            "G": self.generator.state_dict(),
            "G_ema": self.generator_ema.state_dict(),
            "D": self.discriminator.state_dict(),
            "G_opt": self.g_optimizer.state_dict(),
            "D_opt": self.d_optimizer.state_dict(),
            "pl_mean": self.pl_mean.detach().cpu(),
            "step": self.step_index,
            "cur_nimg": self.cur_nimg,
            "rng": capture_rng(),
            **(self.augmentation.state_dict() if self.augmentation is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`'s output; the options must match except for `RESUMABLE_CHANGES`."""
        check_resumed_options(TrainingOptions.from_json(state["options"]), self.options, RESUMABLE_CHANGES)
        load_strict(self.generator, state["G"], "the training state")
        load_strict(self.generator_ema, state["G_ema"], "the training state")
        load_strict(self.discriminator, state["D"], "the training state")
        self.g_optimizer.load_state_dict(state["G_opt"])
        self.d_optimizer.load_state_dict(state["D_opt"])
        lazy = ((self.g_optimizer, self.options.pl_interval), (self.d_optimizer, self.options.r1_interval))
        for optimizer, interval in lazy:
            for group in optimizer.param_groups:  # the saved groups carry the saved lr; a resume may have changed it
                group["lr"] = self.options.lr * lazy_ratio(interval)
        self.pl_mean = state["pl_mean"].to(self.device, torch.float32)
        self.step_index = int(state["step"])
        self.cur_nimg = int(state["cur_nimg"])
        restore_rng(state["rng"])
        if self.augmentation is not None:
            self.augmentation.load_state_dict(state)
        self._batches = None

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any],
        dataset: Dataset[Any],
        *,
        device: str | torch.device = "cpu",
        distributed: Distributed | None = None,
        num_workers: int = 0,
        **changes: Any,
    ) -> Trainer:
        """Rebuild a trainer from a saved state; `changes` may set `RESUMABLE_CHANGES` (e.g. `total_kimg`, `lr`)."""
        check_resume_changes(changes, RESUMABLE_CHANGES)
        options = TrainingOptions.from_json(state["options"]).replace(**changes)
        trainer = cls(options, dataset, device=device, distributed=distributed, num_workers=num_workers)
        trainer.load_state_dict(state)
        return trainer

    @torch.no_grad()
    def sample(self, seeds: list[int], *, batch_size: int = 16) -> Tensor:
        """G_ema's images for `seeds` (NVIDIA's seed -> z, constant noise), `[len(seeds), C, H, W]` on the CPU."""
        from stylegan_edit.generators.sampling import generate_from_seeds

        return generate_from_seeds(self.generator_ema, seeds, noise_mode="const", batch_size=batch_size)
