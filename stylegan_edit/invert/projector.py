"""Projection of images into a StyleGAN2 or StyleGAN3 generator by optimisation: Image2StyleGAN (arXiv:1904.03189)
in W / W+, with NVIDIA's schedules, latent noise and noise-map regularisation (stylegan2-ada-pytorch `projector.py`;
StyleGAN3, arXiv:2106.12423, has no noise maps), by Adam or, for the latents alone, by a batched L-BFGS
(`invert.lbfgs`).
"""

from __future__ import annotations

from collections.abc import Iterator
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

OPTIMIZERS = ("adam", "lbfgs")


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
        target_features = (
            self.perceptual.target_features(targets) if self.perceptual is not None and self.perceptual_weight else []
        )
        if self.optimizer == "lbfgs":
            yield from self._lbfgs_steps(generator, targets, target_features, latent.detach(), space)
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
            noisy = latent
            if scale > 0:
                draws = torch.cat([torch.randn([1, *latent.shape[1:]], generator=g) for g in streams])
                noisy = latent + draws.to(device) * scale
            # The non-fused modulated convolution (NVIDIA's training path) runs forward + backward faster.
            ws = _to_ws(generator, noisy, space)
            images = generator.synthesis(ws, noise=noise or None, noise_mode="const", fused_modconv=False)
            terms = self._terms(images, targets, target_features, noise)
            total = terms["total"]
            if not bool(torch.isfinite(total).all()):
                raise ValueError(f"optimisation diverged (NaN loss) at step {step}; try a lower --lr")
            params = [latent, *noise]
            grads = torch.autograd.grad(total.sum(), params)
            for param, grad in zip(params, grads, strict=True):
                param.grad = grad
            optimizer.step()
            if noise:
                normalize_noise_(noise)
            yield ProjectionStep(
                step=step,
                num_steps=self.num_steps,
                lr=lr,
                losses={k: v.detach().cpu() for k, v in terms.items()},
                latents=Latents(latent.detach().clone(), space),
                noise=[n.detach().clone() for n in noise],
            )

    def _lbfgs_steps(
        self, generator: AnyGenerator, targets: Tensor, target_features: list[Tensor], start: Tensor, space: LatentSpace
    ) -> Iterator[ProjectionStep]:
        """One evaluation per step; the first evaluates the start (Adam's first step evaluates it too, then moves)."""
        trial_terms: dict[str, Tensor] = {}

        def objective(latent: Tensor) -> tuple[Tensor, Tensor]:
            latent = latent.detach().requires_grad_(True)
            images = generator.synthesis(_to_ws(generator, latent, space), noise_mode="const", fused_modconv=False)
            terms = self._terms(images, targets, target_features, [])
            (grad,) = torch.autograd.grad(terms["total"].sum(), [latent])
            trial_terms.clear()
            trial_terms.update({k: v.detach() for k, v in terms.items()})
            return terms["total"].detach(), grad

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
        self, images: Tensor, targets: Tensor, target_features: list[Tensor], noise: list[Tensor]
    ) -> dict[str, Tensor]:
        terms: dict[str, Tensor] = {}
        total = torch.zeros(images.shape[0], device=images.device)
        if self.perceptual is not None and self.perceptual_weight:
            terms["perceptual"] = self.perceptual.distance(images, target_features)
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
