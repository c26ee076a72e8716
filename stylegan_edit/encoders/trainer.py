"""Training a pSp (arXiv:2008.00951) or e4e (arXiv:2102.02766) encoder against a frozen generator, one step at a time.

A step encodes a batch of real images and of images the generator renders from random codes, renders the codes
back, and minimises pixel L2 + perceptual distance (+ L2 to the known codes of the rendered images) + pSp's W-norm
or e4e's delta regulariser and latent adversarial loss; e4e then updates its latent discriminator (with lazy R1).
A ReStyle encoder (arXiv:2104.02699) runs `options.iterations` passes per batch as the reference coach does: each
pass reads the target and the previous (detached) render, back-propagates its own loss, and the optimiser steps
once; e4e's latent discriminator then sees the last pass's codes.
Every random draw depends on (seed, step, phase, rank) only, and the data order on the step, so resuming is exact.
Data-parallel replicas average gradients through the GAN trainer's `Distributed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from stylegan_edit.encoders.config import check_generator, generator_fingerprint
from stylegan_edit.encoders.encoder import StyleEncoder, build_encoder, init_backbone_from_classifier
from stylegan_edit.encoders.latent_discriminator import (
    LatentDiscriminator,
    encoder_adversarial_loss,
    latent_discriminator_loss,
    latent_r1_penalty,
)
from stylegan_edit.encoders.options import RESUMABLE_CHANGES, EncoderTrainingOptions
from stylegan_edit.files import load_strict
from stylegan_edit.generators import Network
from stylegan_edit.perceptual.choice import auto_perceptual_loss
from stylegan_edit.perceptual.losses import PerceptualLoss, mse_loss, perceptual_loss
from stylegan_edit.training.data import step_loader
from stylegan_edit.training.distributed import Distributed
from stylegan_edit.training.losses import PhaseRandom, run_generator
from stylegan_edit.training.state import (
    capture_rng,
    check_resume_changes,
    check_resumed_options,
    restore_rng,
)

if TYPE_CHECKING:
    from stylegan_edit.classifiers.attributes import AttributeClassifier

ENCODER_STATE_FORMAT = "stylegan-edit/encoder-training-state"
ENCODER_STATE_KEYS = ("options", "encoder", "encoder_opt", "discriminator", "discriminator_opt", "step", "rng")
PHASE_SYNTHETIC, PHASE_REAL_CODES = range(2)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderStepStats:
    """What one step did: this process's batch means of each loss term (`total` is the encoder's objective;
    `disc` and `r1` are the latent discriminator's, on e4e steps that have them) and e4e's enabled offsets."""

    step: int
    losses: dict[str, float]
    num_offsets: int
    batch: int
    seconds: float


def resolve_perceptual(kind: str, network: Network) -> PerceptualLoss | None:
    """`auto` (LPIPS when its weights are cached, else a download-free fallback), `none`, or a named distance."""
    if kind == "none":
        return None
    return auto_perceptual_loss(network) if kind == "auto" else perceptual_loss(kind, network)


class EncoderTrainer:
    """Train an encoder for `network.generator` (frozen, as is the discriminator) on `dataset` images `[3, R, R]`
    in [-1, 1] (or `(image, label)` items) mixed with generated images; `dataset` may be None when
    `synthetic_fraction` is 1.

    backbone_from: an attribute classifier whose stem and stages start the backbone (the encoder config must use
    `classifier_backbone_settings(classifier)`); otherwise the backbone starts at random. Learned state:
    `encoder`, `discriminator` (e4e with an adversarial weight), their optimisers and `step_index`.
    """

    def __init__(
        self,
        options: EncoderTrainingOptions,
        network: Network,
        dataset: Dataset[Any] | None,
        *,
        distributed: Distributed | None = None,
        num_workers: int = 0,
        backbone_from: AttributeClassifier | None = None,
    ) -> None:
        from stylegan_edit.generators.wstats import w_stats

        self.options = options
        self.distributed = distributed or Distributed()
        self.device = self.distributed.device
        self.generator = network.generator.to(self.device).eval().requires_grad_(False)
        if network.discriminator is not None:  # its features may serve as the perceptual distance
            network.discriminator.to(self.device).eval().requires_grad_(False)
        self.dataset = dataset
        self.num_workers = num_workers
        world = self.distributed.world_size
        if options.batch % world:
            raise ValueError(f"batch {options.batch} must be divisible by the number of processes ({world})")
        self.batch_per_process = options.batch // world
        self.num_synthetic = round(self.batch_per_process * options.synthetic_fraction)
        self.num_real = self.batch_per_process - self.num_synthetic
        if self.num_real and dataset is None:
            raise ValueError("training on real images (synthetic_fraction below 1) needs a dataset")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            encoder = build_encoder(options.encoder)
            discriminator = LatentDiscriminator(options.encoder.w_dim) if options.adv_weight > 0 else None
        encoder.bind(self.generator, w_stats(self.generator).mean)
        if backbone_from is not None:
            init_backbone_from_classifier(encoder, backbone_from)
        self.encoder: StyleEncoder = encoder.to(self.device).train()
        self.distributed.broadcast_(self.encoder)
        self.encoder_opt = torch.optim.Adam(self.encoder.parameters(), lr=options.lr, betas=options.betas)
        self.discriminator = discriminator.to(self.device).train() if discriminator is not None else None
        self.discriminator_opt = None
        if self.discriminator is not None:
            self.distributed.broadcast_(self.discriminator)
            self.discriminator_opt = torch.optim.Adam(self.discriminator.parameters(), lr=options.d_lr)
        self.perceptual = resolve_perceptual(options.perceptual, network) if options.perceptual_weight else None
        self.step_index = 0
        self._batches: Iterator[Tensor] | None = None

    def _random(self, phase: int) -> PhaseRandom:
        return PhaseRandom([self.options.seed, self.step_index, phase, self.distributed.rank], self.device)

    def _reals(self) -> Tensor:
        assert self.dataset is not None
        if self._batches is None:
            self._batches = step_loader(
                self.dataset,
                self.num_real * self.distributed.world_size,
                seed=self.options.seed,
                start_step=self.step_index,
                rank=self.distributed.rank,
                world_size=self.distributed.world_size,
                num_workers=self.num_workers,
            )
        images = next(self._batches).to(self.device, torch.float32)
        res = self.generator.img_resolution
        expected = (self.generator.config.img_channels, res, res)
        if tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"dataset images have shape {list(images.shape[1:])}, the generator makes {list(expected)}"
            )
        return images

    def _batch(self) -> tuple[Tensor, Tensor | None]:
        """Targets `[n, 3, R, R]` (reals first) and the known codes `[n_synthetic, num_ws, w_dim]` of the rest."""
        parts, known = [], None
        if self.num_real:
            parts.append(self._reals())
        if self.num_synthetic:
            rng = self._random(PHASE_SYNTHETIC)
            z = rng.randn([self.num_synthetic, self.generator.z_dim])
            with torch.no_grad():
                images, known = run_generator(self.generator, z, rng, mixing_prob=self.options.mixing_prob)
            parts.append(images)
        return torch.cat(parts), known

    def encode(self, images: Tensor, num_offsets: int) -> Tensor:
        """The encoder's ws for `images`, with e4e's first `num_offsets` offsets enabled (ReStyle: after all
        `options.iterations` passes)."""
        if self.encoder.config.restyle:
            *_, (ws, _) = self.encoder.restyle_steps(
                images, self.generator, self.options.iterations, num_offsets=num_offsets, render_last=False
            )
            return ws
        return self.encoder.codes(images, num_offsets)

    def losses(self, targets: Tensor, known: Tensor | None, num_offsets: int) -> tuple[Tensor, dict[str, Tensor]]:
        """The encoder's codes for `targets` and its loss terms (batch means, `total` weighted); one-pass encoders."""
        ws = self.encode(targets, num_offsets)
        return ws, self.terms(ws, self.generator.synthesis(ws, noise_mode="const"), targets, known, num_offsets)

    def terms(
        self, ws: Tensor, images: Tensor, targets: Tensor, known: Tensor | None, num_offsets: int
    ) -> dict[str, Tensor]:
        """The loss terms of codes `ws` and their render `images` for `targets`."""
        opts = self.options
        terms: dict[str, Tensor] = {"mse": mse_loss(images, targets).mean()}
        weighted = [opts.mse_weight * terms["mse"]]
        if self.perceptual is not None:
            terms["perceptual"] = self.perceptual(images, targets).mean()
            weighted.append(opts.perceptual_weight * terms["perceptual"])
        if known is not None and opts.latent_weight:
            terms["latent"] = (ws[self.num_real :] - known).square().mean()
            weighted.append(opts.latent_weight * terms["latent"])
        if opts.w_norm_weight:
            terms["w_norm"] = (ws - self.encoder.w_avg).norm(dim=(1, 2)).mean()
            weighted.append(opts.w_norm_weight * terms["w_norm"])
        if opts.delta_weight and num_offsets:
            deltas = ws[:, 1 : num_offsets + 1] - ws[:, :1]
            terms["delta"] = deltas.norm(dim=2).mean(dim=0).sum()
            weighted.append(opts.delta_weight * terms["delta"])
        if self.discriminator is not None:
            terms["adv"] = encoder_adversarial_loss(self.discriminator(_codes(ws, num_offsets)))
            weighted.append(opts.adv_weight * terms["adv"])
        terms["total"] = torch.stack(weighted).sum()
        return terms

    def _backward(self, terms: dict[str, Tensor]) -> dict[str, float]:
        if not bool(torch.isfinite(terms["total"])):
            raise ValueError(f"encoder training diverged (NaN loss) at step {self.step_index}; try a lower --lr")
        terms["total"].backward()
        return {name: float(value.detach()) for name, value in terms.items()}

    def step(self) -> EncoderStepStats:
        """One encoder update on one batch (ReStyle: its passes' gradients summed), then (e4e) one
        latent-discriminator update. A ReStyle step reports its passes' mean losses."""
        start = time.perf_counter()
        num_offsets = self.options.num_offsets(self.step_index)
        targets, known = self._batch()
        if self.discriminator is not None:
            self.discriminator.requires_grad_(False)
        self.encoder_opt.zero_grad(set_to_none=True)
        if self.encoder.config.restyle:
            passes = []
            steps = self.encoder.restyle_steps(
                targets, self.generator, self.options.iterations, num_offsets=num_offsets
            )
            for ws, images in steps:
                assert images is not None
                passes.append(self._backward(self.terms(ws, images, targets, known, num_offsets)))
            values = {name: sum(p[name] for p in passes) / len(passes) for name in passes[0]}
        else:
            ws, terms = self.losses(targets, known, num_offsets)
            values = self._backward(terms)
        self.distributed.average_gradients_(self.encoder)
        self.encoder_opt.step()
        if self.discriminator is not None:
            values.update(self._discriminator_step(ws.detach(), num_offsets))
        self.step_index += 1
        return EncoderStepStats(
            self.step_index - 1, values, num_offsets, self.options.batch, time.perf_counter() - start
        )

    def _discriminator_step(self, ws: Tensor, num_offsets: int) -> dict[str, float]:
        discriminator, optimizer, opts = self.discriminator, self.discriminator_opt, self.options
        assert discriminator is not None and optimizer is not None
        discriminator.requires_grad_(True)
        rng = self._random(PHASE_REAL_CODES)
        with torch.no_grad():
            real = self.generator.mapping(rng.randn([ws.shape[0], self.generator.z_dim]))[:, 0]
        optimizer.zero_grad(set_to_none=True)
        loss = latent_discriminator_loss(discriminator(real), discriminator(_codes(ws, num_offsets)))
        loss.backward()
        self.distributed.average_gradients_(discriminator)
        optimizer.step()
        values = {"disc": float(loss.detach())}
        if self.step_index % opts.r1_interval == 0 and opts.r1_gamma > 0:
            optimizer.zero_grad(set_to_none=True)
            penalty = latent_r1_penalty(discriminator, real)
            (penalty.mean() * (opts.r1_gamma / 2) * opts.r1_interval).backward()
            self.distributed.average_gradients_(discriminator)
            optimizer.step()
            values["r1"] = float(penalty.detach().mean())
        return values

    @torch.no_grad()
    def reconstruct(self, targets: Tensor, *, batch_size: int = 8) -> Tensor:
        """The generator's renders `[N, 3, R, R]` (on the CPU) of the encoder's current codes for `targets`."""
        num_offsets = self.options.num_offsets(self.step_index)
        parts = []
        for start in range(0, targets.shape[0], batch_size):
            ws = self.encode(targets[start : start + batch_size].to(self.device), num_offsets)
            parts.append(self.generator.synthesis(ws, noise_mode="const").cpu())
        return torch.cat(parts)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs, as plain tensors, numbers and strings (see `state.save_state`)."""
        return {
            "options": self.options.to_json(),
            "encoder": self.encoder.state_dict(),
            "encoder_opt": self.encoder_opt.state_dict(),
            "discriminator": self.discriminator.state_dict() if self.discriminator is not None else {},
            "discriminator_opt": self.discriminator_opt.state_dict() if self.discriminator_opt is not None else {},
            "generator_fingerprint": self.encoder.generator_fingerprint,
            "step": self.step_index,
            "rng": capture_rng(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`'s output: same options (but the scheduling intervals) and generator."""
        check_resumed_options(EncoderTrainingOptions.from_json(state["options"]), self.options, RESUMABLE_CHANGES)
        fingerprint = generator_fingerprint(self.generator)
        if state.get("generator_fingerprint") != fingerprint:
            raise ValueError("the saved training state was made with another generator; pass the run's --network")
        load_strict(self.encoder, state["encoder"], "the training state")
        self.encoder_opt.load_state_dict(state["encoder_opt"])
        if self.discriminator is not None and self.discriminator_opt is not None:
            load_strict(self.discriminator, state["discriminator"], "the training state")
            self.discriminator_opt.load_state_dict(state["discriminator_opt"])
        self.step_index = int(state["step"])
        restore_rng(state["rng"])
        self._batches = None

    def start_from(self, encoder: StyleEncoder, step: int, *, source: str = "the encoder") -> None:
        """Fine-tune `encoder` (same config): take its weights and count steps on from `step`, so e4e's schedule
        and the data order continue where it stopped. The optimisers, and e4e's latent discriminator (encoder files
        do not keep it), start fresh. Raises `ValueError` for another architecture or generator shape.

        An encoder trained against another generator of the same shape (e.g. the model before a retraining, or the
        photo model for its toon fine-tune) is retargeted: it keeps its weights but takes this generator's mean W
        (the base its codes are offsets from) and fingerprint, so its snapshots belong to this generator."""
        if encoder.config != self.options.encoder:
            raise ValueError(f"{source} has another architecture than the training options ({encoder.config})")
        check_generator(encoder.config, self.generator, source)
        fingerprint, w_avg = self.encoder.generator_fingerprint, self.encoder.w_avg.clone()
        load_strict(self.encoder, encoder.state_dict(), source)
        if encoder.generator_fingerprint != fingerprint:
            self.encoder.bind(self.generator, w_avg)
            logger.info("%s was trained against another generator: retargeted to this one's mean W", source)
        self.distributed.broadcast_(self.encoder)
        self.step_index = step
        self._batches = None

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any],
        network: Network,
        dataset: Dataset[Any] | None,
        *,
        distributed: Distributed | None = None,
        num_workers: int = 0,
        **changes: Any,
    ) -> EncoderTrainer:
        """Rebuild a trainer from a saved state; `changes` may set the scheduling options (e.g. `total_steps`)."""
        check_resume_changes(changes, RESUMABLE_CHANGES)
        options = EncoderTrainingOptions.from_json(state["options"]).replace(**changes)
        trainer = cls(options, network, dataset, distributed=distributed, num_workers=num_workers)
        trainer.load_state_dict(state)
        return trainer


def _codes(ws: Tensor, num_offsets: int) -> Tensor:
    """The distinct per-layer codes `[N * (num_offsets + 1), w_dim]` the latent discriminator judges."""
    return ws[:, : num_offsets + 1].reshape(-1, ws.shape[-1])
