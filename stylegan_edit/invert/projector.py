"""Projection of images into a StyleGAN2 or StyleGAN3 generator by optimisation: Image2StyleGAN (arXiv:1904.03189)
in W / W+, with NVIDIA's schedules, latent noise and noise-map regularisation (stylegan2-ada-pytorch `projector.py`;
StyleGAN3, arXiv:2106.12423, has no noise maps), by Adam or, for the latents alone, by a batched L-BFGS
(`invert.lbfgs`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from stylegan_edit.generators import AnyGenerator, Generator
from stylegan_edit.generators.sampling import render
from stylegan_edit.generators.wstats import w_stats
from stylegan_edit.invert.initial import Init, initial_latents
from stylegan_edit.invert.lbfgs import BatchedLBFGS
from stylegan_edit.invert.noise import NO_NOISE, initial_noise, noise_regularization, normalize_noise_
from stylegan_edit.invert.schedule import NVIDIA, latent_noise_scale, learning_rate
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.perceptual.losses import PerceptualLoss, l1_loss, mse_loss

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "lbfgs")
# On CPU, images are sent through the networks this many pixels at a time (64 px: 16 images, 256 px and up: one):
# activations that stay in the cache beat the larger convolutions of a batch (benchmarks/bench_1024.py).
CPU_PASS_PIXELS = 16 * 64 * 64
LOW_PRECISION_MIN_RESOLUTION = 256  # `low_precision=None` uses bfloat16 from this image size up


@dataclass(frozen=True)
class ProjectionStep:
    """Progress after one optimisation step (all tensors detached copies; losses on CPU).

    losses: per-image terms `[N]`: `total` (what was minimised), `mse`, `l1`, `perceptual`, `noise_reg`
    (those in use). latents and noise are the values after this step's update. With L-BFGS a step is one
    evaluation (one forward + backward pass, as an Adam step): latents and losses are each image's best point so
    far, and lr is the mean step length tried.
    """

    step: int
    num_steps: int
    lr: float
    losses: dict[str, Tensor]
    latents: Latents
    noise: list[Tensor]


@dataclass(frozen=True)
class ProjectionResult:
    """latents: the final codes; noise: the optimised maps `[N, 1, r, r]` per noise layer (empty when not
    optimised: render with the generator's own noise); images: the reconstruction `[N, 3, H, W]` in [-1, 1];
    losses: the last step's per-image terms; loss_history: `total` per step `[num_steps, N]`; loss: the objective.
    """

    latents: Latents
    noise: list[Tensor]
    images: Tensor
    losses: dict[str, Tensor]
    loss_history: Tensor
    loss: str


class Projector:
    """Find latents (and optionally noise maps) whose rendering matches target images.

    Every image is optimised independently but in one batch: the loss is a sum of per-image terms, Adam works
    element-wise (L-BFGS keeps a history and line search per image), and image i of a batch draws its random
    numbers from its own stream `seed + seed_offset + i`, so projecting a batch gives the same result as projecting
    its images one by one.

    optimizer: `adam` (with the lr schedule and latent noise) or `lbfgs` (`invert.lbfgs`: no lr, no latent noise,
    latents only; from a close start, such as an encoder's codes, it gets further in the same number of steps).

    Speed (none of these changes what is optimised): images_per_pass: images sent through the networks together
    (the losses and gradients are per image, so only float rounding depends on it); None: the whole batch on a
    GPU, `CPU_PASS_PIXELS` pixels at a time on a CPU. low_precision: run the StyleGAN2 synthesis from 64 px up
    and the perceptual network's convolutions in bfloat16 (the losses, the optimiser and the result stay
    float32); None: on a CPU with native bfloat16 (AMX or AVX512-BF16) for images of at least
    `LOW_PRECISION_MIN_RESOLUTION` px. compile: `torch.compile` the rendering and the loss (a minute or two of
    compiling at 1024 px, then faster steps); without a working compiler it runs eagerly, silently.
    """

    def __init__(
        self,
        *,
        space: str = "w",
        num_steps: int = 1000,
        lr: float = NVIDIA.lr,
        lr_rampup: float = NVIDIA.lr_rampup,
        lr_rampdown: float = NVIDIA.lr_rampdown,
        latent_noise: float = NVIDIA.latent_noise,
        latent_noise_ramp: float = 0.75,
        optimize_noise: bool = False,
        noise_weight: float = 1e5,
        mse_weight: float = 0.0,
        l1_weight: float = 0.0,
        perceptual_weight: float = 1.0,
        perceptual: PerceptualLoss | None = None,
        num_w_samples: int = 10000,
        w_stats_seed: int = 123,
        seed: int = 303,
        optimizer: str = "adam",
        images_per_pass: int | None = None,
        low_precision: bool | None = None,
        compile: bool = False,
    ) -> None:
        self.space = space
        self.num_steps = num_steps
        self.lr = lr
        self.lr_rampup = lr_rampup
        self.lr_rampdown = lr_rampdown
        self.latent_noise = latent_noise
        self.latent_noise_ramp = latent_noise_ramp
        self.optimize_noise = optimize_noise
        self.noise_weight = noise_weight
        self.mse_weight = mse_weight
        self.l1_weight = l1_weight
        self.perceptual_weight = perceptual_weight
        self.perceptual = perceptual
        self.num_w_samples = num_w_samples
        self.w_stats_seed = w_stats_seed
        self.seed = seed
        self.optimizer = optimizer
        self.images_per_pass = images_per_pass
        self.low_precision = low_precision
        self.compile = compile

    @property
    def loss(self) -> str:
        """The objective in words, e.g. `1*disc + 0.1*mse + 100000*noise_reg` (recorded with results)."""
        terms = [
            (self.perceptual_weight, self.perceptual.name if self.perceptual is not None else "perceptual"),
            (self.mse_weight, "mse"),
            (self.l1_weight, "l1"),
            (self.noise_weight if self.optimize_noise else 0.0, "noise_reg"),
        ]
        return " + ".join(f"{weight:g}*{name}" for weight, name in terms if weight)

    def _check(self, generator: AnyGenerator, targets: Tensor) -> LatentSpace:
        space = LatentSpace(self.space)
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be at least 1, got {self.num_steps}")
        if self.perceptual_weight and self.perceptual is None:
            raise ValueError(
                "perceptual_weight is non-zero but no perceptual loss was given (see invert.losses.perceptual_loss)"
            )
        if not (self.perceptual_weight or self.mse_weight or self.l1_weight):
            raise ValueError("all loss weights are zero: nothing to optimise")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.optimizer == "lbfgs" and self.optimize_noise:
            raise ValueError("L-BFGS optimises the latents only (the noise maps' renormalisation breaks it): use adam")
        if self.optimizer == "lbfgs" and self.latent_noise > 0:
            raise ValueError("L-BFGS takes no latent noise: set latent_noise to 0 or use adam")
        if self.optimize_noise and not isinstance(generator, Generator):
            raise ValueError(NO_NOISE)
        if self.images_per_pass is not None and self.images_per_pass < 1:
            raise ValueError(f"images_per_pass must be at least 1, got {self.images_per_pass}")
        res = generator.img_resolution
        expected = (generator.config.img_channels, res, res)
        if targets.ndim != 4 or tuple(targets.shape[1:]) != expected:
            raise ValueError(f"targets must have shape [N, {', '.join(map(str, expected))}], got {list(targets.shape)}")
        return space

    def steps(
        self, generator: AnyGenerator, targets: Tensor, init: Init = None, *, seed_offset: int = 0
    ) -> Iterator[ProjectionStep]:
        """Optimise, yielding progress after every step.

        targets: `[N, 3, R, R]` in [-1, 1] at the generator's resolution. init: None (mean W), `Latents`, a
        latents file, or an encoder (`images -> Latents`). Raises `ValueError` when the loss becomes NaN.
        """
        space = self._check(generator, targets)
        device = generator.device
        targets = targets.to(device, torch.float32)
        num = targets.shape[0]
        streams = [torch.Generator().manual_seed(self.seed + seed_offset + i) for i in range(num)]
        stats = w_stats(generator, num_samples=self.num_w_samples, seed=self.w_stats_seed)
        latent = initial_latents(generator, targets, init, space, stats.mean, streams).requires_grad_(True)
        evaluate = _Evaluator(self, generator, space, targets)
        if self.optimizer == "lbfgs":
            yield from self._lbfgs_steps(evaluate, latent.detach(), space)
            return
        noise = [n.requires_grad_(True) for n in initial_noise(generator, num)] if self.optimize_noise else []
        optimizer = torch.optim.Adam([latent, *noise], betas=(0.9, 0.999), lr=self.lr)
        std = generator.z_dim**0.5 if space is LatentSpace.Z else stats.std
        for step in range(self.num_steps):
            t = step / self.num_steps
            lr = learning_rate(t, lr=self.lr, rampup=self.lr_rampup, rampdown=self.lr_rampdown)
            for group in optimizer.param_groups:
                group["lr"] = lr
            scale = latent_noise_scale(t, std=std, strength=self.latent_noise, ramp=self.latent_noise_ramp)
            noisy = latent.detach()
            if scale > 0:
                draws = torch.cat([torch.randn([1, *latent.shape[1:]], generator=g) for g in streams])
                noisy = noisy + draws.to(device) * scale
            # d(loss)/d(latent) = d(loss)/d(noisy): the latent noise is a constant offset.
            terms, grads = evaluate(noisy, [n.detach() for n in noise])
            if not bool(torch.isfinite(terms["total"]).all()):
                raise ValueError(f"optimisation diverged (NaN loss) at step {step}; try a lower --lr")
            for param, grad in zip([latent, *noise], grads, strict=True):
                param.grad = grad
            optimizer.step()
            if noise:
                normalize_noise_(noise)
            yield ProjectionStep(
                step=step,
                num_steps=self.num_steps,
                lr=lr,
                losses={k: v.cpu() for k, v in terms.items()},
                latents=Latents(latent.detach().clone(), space),
                noise=[n.detach().clone() for n in noise],
            )

    def _lbfgs_steps(self, evaluate: _Evaluator, start: Tensor, space: LatentSpace) -> Iterator[ProjectionStep]:
        """One evaluation per step; the first evaluates the start (Adam's first step evaluates it too, then moves)."""
        trial_terms: dict[str, Tensor] = {}

        def objective(latent: Tensor) -> tuple[Tensor, Tensor]:
            terms, (grad,) = evaluate(latent, [])
            trial_terms.clear()
            trial_terms.update(terms)
            return terms["total"], grad

        best: dict[str, Tensor] = {}
        lbfgs = BatchedLBFGS(history=min(self.num_steps, 100))
        for step, update in enumerate(lbfgs.steps(objective, start, self.num_steps)):
            if not bool(torch.isfinite(update.f).all()):
                raise ValueError(f"optimisation diverged (NaN loss) at step {step}")
            accepted = update.accepted.to(start.device)
            best = {k: torch.where(accepted, v, best[k]) if best else v for k, v in trial_terms.items()}
            yield ProjectionStep(
                step=step,
                num_steps=self.num_steps,
                lr=float(update.step_length.mean()),
                losses={k: v.cpu() for k, v in best.items()},
                latents=Latents(update.x, space),
                noise=[],
            )

    def _terms(
        self, images: Tensor, targets: Tensor, perceptual: Tensor | None, noise: list[Tensor]
    ) -> dict[str, Tensor]:
        """The per-image terms `[N]` and their weighted `total`, given the perceptual distance `[N]` (or None)."""
        terms: dict[str, Tensor] = {}
        total = torch.zeros(images.shape[0], device=images.device)
        if perceptual is not None:
            terms["perceptual"] = perceptual.float()
            total = total + self.perceptual_weight * terms["perceptual"]
        if self.mse_weight:
            terms["mse"] = mse_loss(images, targets)
            total = total + self.mse_weight * terms["mse"]
        if self.l1_weight:
            terms["l1"] = l1_loss(images, targets)
            total = total + self.l1_weight * terms["l1"]
        if noise:
            terms["noise_reg"] = noise_regularization(noise)
            total = total + self.noise_weight * terms["noise_reg"]
        terms["total"] = total
        return terms

    def project(
        self, generator: AnyGenerator, targets: Tensor, init: Init = None, *, seed_offset: int = 0
    ) -> ProjectionResult:
        """Run all steps and render the result (see `steps`)."""
        history = []
        last: ProjectionStep | None = None
        for last in self.steps(generator, targets, init, seed_offset=seed_offset):
            history.append(last.losses["total"])
        assert last is not None
        return ProjectionResult(
            latents=last.latents,
            noise=last.noise,
            images=render(generator, last.latents, last.noise).to(generator.device),
            losses=last.losses,
            loss_history=torch.stack(history),
            loss=self.loss,
        )


def _to_ws(generator: AnyGenerator, latent: Tensor, space: LatentSpace) -> Tensor:
    if space is LatentSpace.W:
        return latent.unsqueeze(1).repeat(1, generator.num_ws, 1)
    if space is LatentSpace.Z:
        return generator.mapping(latent, truncation_psi=1.0)
    return latent


def native_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AMX tiles or AVX512-BF16), where it is fast."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


class _Evaluator:
    """Per-image loss terms `[N]` and the gradients of their sum with respect to the latents `[N, ...]` and noise
    maps, computed `images_per_pass` images at a time (targets and target features computed once, here)."""

    def __init__(self, projector: Projector, generator: AnyGenerator, space: LatentSpace, targets: Tensor) -> None:
        self.projector = projector
        self.generator = generator
        self.space = space
        self.targets = targets
        device = generator.device
        resolution = generator.img_resolution
        per_pass = projector.images_per_pass
        if per_pass is None:
            per_pass = max(1, CPU_PASS_PIXELS // resolution**2) if device.type == "cpu" else len(targets)
        self.per_pass = per_pass
        low = projector.low_precision
        if low is None:
            low = device.type == "cpu" and resolution >= LOW_PRECISION_MIN_RESOLUTION and native_bfloat16()
        self.low_precision = bool(low)
        perceptual = projector.perceptual if projector.perceptual_weight else None
        self.perceptual = perceptual
        self.target_features: list[Tensor] = []
        if perceptual is not None:
            with self._autocast():
                self.target_features = [f.detach() for f in perceptual.target_features(targets)]
        self.compiled: Callable[..., dict[str, Tensor]] | None = None
        if projector.compile:
            self.compiled = torch.compile(self._terms, dynamic=False)

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        device_type = self.generator.device.type
        if not self.low_precision:
            return contextlib.nullcontext()
        return torch.autocast(device_type, dtype=torch.bfloat16)

    def _terms(self, latent: Tensor, noise: list[Tensor], targets: Tensor, features: list[Tensor]) -> dict[str, Tensor]:
        generator = self.generator
        ws = _to_ws(generator, latent, self.space)
        extra = {"low_precision": True} if self.low_precision and isinstance(generator, Generator) else {}
        images = generator.synthesis(ws, noise=noise or None, noise_mode="const", **extra)
        perceptual = None
        if self.perceptual is not None:
            with self._autocast():
                perceptual = self.perceptual.distance(images, features)
        return self.projector._terms(images, targets, perceptual, noise)

    def _pass(self, leaves: list[Tensor], targets: Tensor, features: list[Tensor]) -> dict[str, Tensor]:
        if self.compiled is not None:
            try:
                return self.compiled(leaves[0], leaves[1:], targets, features)
            except Exception as error:  # no C++ compiler, or an op the compiler cannot take: run eagerly
                logger.debug("torch.compile failed, projecting eagerly: %s", error)
                self.compiled = None
        return self._terms(leaves[0], leaves[1:], targets, features)

    def __call__(self, latent: Tensor, noise: list[Tensor]) -> tuple[dict[str, Tensor], list[Tensor]]:
        """latent `[N, ...]`, noise maps `[N, 1, r, r]` (detached) -> (terms `[N]` detached, gradients)."""
        parts: list[dict[str, Tensor]] = []
        grads: list[list[Tensor]] = []
        for start in range(0, latent.shape[0], self.per_pass):
            rows = slice(start, start + self.per_pass)
            leaves = [x[rows].detach().requires_grad_(True) for x in (latent, *noise)]
            terms = self._pass(leaves, self.targets[rows], [f[rows] for f in self.target_features])
            grads.append(list(torch.autograd.grad(terms["total"].sum(), leaves)))
            parts.append({k: v.detach() for k, v in terms.items()})
        if len(parts) == 1:
            return parts[0], grads[0]
        terms = {k: torch.cat([part[k] for part in parts]) for k in parts[0]}
        return terms, [torch.cat(column) for column in zip(*grads, strict=True)]
