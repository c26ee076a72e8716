"""Pivotal Tuning Inversion (Roich et al., arXiv:2106.05744): fine-tune a generator's synthesis weights around
pivot latents until it reproduces the target images, with PTI's locality regulariser keeping the images of codes
away from the pivots as the original generator renders them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from stylegan_edit.generators import AnyGenerator, StyleGAN3Generator
from stylegan_edit.latents import Latents, LatentSpace
from stylegan_edit.perceptual.losses import PerceptualLoss, mse_loss

PTI_LPIPS_THRESHOLD = 0.06  # the paper's stopping rule: tuning ends once LPIPS to the target is below this


@dataclass(frozen=True)
class TuningStep:
    """Progress after one step. losses: per-image terms `[N]` on the CPU, evaluated before this step's update:
    `total` (what was minimised), `mse`, `perceptual` (when used) and `locality` (on the steps it runs). converged:
    every image's perceptual distance reached `stop_below`, so no update was made and tuning ends here. generator:
    the copy being tuned, updated in place (deep-copy it to keep a snapshot)."""

    step: int
    num_steps: int
    losses: dict[str, Tensor]
    converged: bool
    generator: AnyGenerator


@dataclass(frozen=True)
class TuningResult:
    """generator: the tuned copy (eval mode, no gradients); num_steps: the updates made; converged: stopped by
    `stop_below`; losses: the last step's terms `[N]` (before its update); loss_history: `total` per step
    `[steps, N]`;
    tuned: the names of the synthesis parameters tuned (`synthesis.b64.conv1.weight`, ...)."""

    generator: AnyGenerator
    num_steps: int
    converged: bool
    losses: dict[str, Tensor]
    loss_history: Tensor
    tuned: tuple[str, ...]


def parameter_layers(generator: AnyGenerator) -> dict[str, int]:
    """The W+ index (0 .. num_ws - 1) whose code drives each synthesis parameter, by full parameter name.

    StyleGAN2: a block's first layer (and its const / skip) uses its first code, conv1 the next, torgb the one
    after; StyleGAN3: the Fourier input uses code 0, layer i code i + 1.
    """
    layers: dict[str, int] = {}
    synthesis = generator.synthesis
    if isinstance(generator, StyleGAN3Generator):
        names = generator.synthesis.layer_names
        for name, _ in synthesis.named_parameters():
            head = name.split(".")[0]
            layers[f"synthesis.{name}"] = 0 if head == "input" else names.index(head) + 1
        return layers
    w_index = 0
    for block in generator.synthesis.blocks:
        for name, _ in block.named_parameters():
            part = name.split(".")[0]
            offset = block.num_conv - 1 if part == "conv1" else block.num_conv if part == "torgb" else 0
            layers[f"synthesis.b{block.resolution}.{name}"] = w_index + offset
        w_index += block.num_conv
    return layers


class PivotalTuner:
    """Tune one copy of a generator so that it renders every pivot as its target (PTI's multi-image mode when
    several images are given: one generator for all, each step on the whole batch).

    Each step minimises, per image, `perceptual_weight * perceptual + l2_weight * mse` of the pivot's rendering
    against its target (noise mode `const`) by Adam at `lr`. Every `locality_interval` steps it adds PTI's locality
    term: for each pivot a code `w_z = mapping(z, psi=locality_psi)` of a fresh `z`, the point
    `w_r = w_p + locality_alpha * (w_z - w_p) / |w_z - w_p|` (norm over all W+ layers), and
    `locality_weight * (perceptual + l2_weight * mse)` between the tuned and the original generator's renderings of
    `w_r`. Tuning stops after `num_steps` updates, or before an update once every image's perceptual distance is
    at most `stop_below` (None: never). Only synthesis parameters driven by W+ codes `first_layer` and above are
    tuned; the mapping stays frozen, so W, its statistics and directions found for the base still apply.
    """

    def __init__(
        self,
        *,
        num_steps: int = 350,
        lr: float = 3e-4,
        perceptual: PerceptualLoss | None = None,
        perceptual_weight: float = 1.0,
        l2_weight: float = 1.0,
        stop_below: float | None = None,
        locality_weight: float = 0.1,
        locality_interval: int = 1,
        locality_alpha: float = 30.0,
        locality_psi: float = 0.5,
        first_layer: int = 0,
        seed: int = 0,
    ) -> None:
        self.num_steps = num_steps
        self.lr = lr
        self.perceptual = perceptual
        self.perceptual_weight = perceptual_weight
        self.l2_weight = l2_weight
        self.stop_below = stop_below
        self.locality_weight = locality_weight
        self.locality_interval = locality_interval
        self.locality_alpha = locality_alpha
        self.locality_psi = locality_psi
        self.first_layer = first_layer
        self.seed = seed

    def tuned_parameters(self, generator: AnyGenerator) -> list[str]:
        """The names of the parameters this tuner changes (`synthesis.*` driven by codes >= `first_layer`)."""
        return [name for name, layer in parameter_layers(generator).items() if layer >= self.first_layer]

    def _check(self, generator: AnyGenerator, pivots: Latents, targets: Tensor) -> None:
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be at least 1, got {self.num_steps}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.locality_interval < 1:
            raise ValueError(f"locality_interval must be at least 1, got {self.locality_interval}")
        if self.perceptual_weight and self.perceptual is None:
            raise ValueError("perceptual_weight is non-zero but no perceptual loss was given")
        if not (self.perceptual_weight or self.l2_weight):
            raise ValueError("both loss weights are zero: nothing to tune towards")
        if self.stop_below is not None and not (self.perceptual is not None and self.perceptual_weight):
            raise ValueError("stop_below is a perceptual distance, but no perceptual loss is used")
        if not 0 <= self.first_layer < generator.num_ws:
            raise ValueError(f"first_layer must be in 0 .. {generator.num_ws - 1}, got {self.first_layer}")
        if pivots.space is LatentSpace.Z:
            raise ValueError("pivots must be W or W+ latents (map z codes first)")
        res = generator.img_resolution
        expected = (generator.config.img_channels, res, res)
        if targets.ndim != 4 or tuple(targets.shape[1:]) != expected:
            raise ValueError(f"targets must have shape [N, {', '.join(map(str, expected))}], got {list(targets.shape)}")
        if len(pivots) != targets.shape[0]:
            raise ValueError(f"{len(pivots)} pivots for {targets.shape[0]} targets: give one pivot per target")

    def steps(self, generator: AnyGenerator, pivots: Latents, targets: Tensor) -> Iterator[TuningStep]:
        """Tune a deep copy of `generator` (left untouched), yielding progress after every step.

        pivots: W `[N, w_dim]` or W+ `[N, num_ws, w_dim]` codes; targets: `[N, 3, R, R]` in [-1, 1] at the
        generator's resolution. Raises `ValueError` on bad input or when the loss becomes NaN.
        """
        self._check(generator, pivots, targets)
        device = generator.device
        targets = targets.to(device, torch.float32)
        ws = pivots.to(device).to_w_plus(generator.num_ws).tensor.to(torch.float32).detach()
        tuned = copy.deepcopy(generator).eval().requires_grad_(False)
        wanted = set(self.tuned_parameters(generator))
        params = [p.requires_grad_(True) for name, p in tuned.named_parameters() if name in wanted]
        optimizer = torch.optim.Adam(params, lr=self.lr)
        target_features = self._features(targets)
        stream = torch.Generator().manual_seed(self.seed)
        try:
            for step in range(self.num_steps):
                # The non-fused modulated convolution runs forward + backward faster (as in the projector).
                images = tuned.synthesis(ws, noise_mode="const", fused_modconv=False)
                terms = self._terms(images, targets, target_features)
                if self.stop_below is not None and bool((terms["perceptual"] <= self.stop_below).all()):
                    yield self._event(step, terms, True, tuned)  # PTI checks before the update
                    return
                total = terms["total"]
                if step % self.locality_interval == 0 and self.locality_weight:
                    terms["locality"] = self._locality(tuned, generator, ws, stream)
                    total = total + self.locality_weight * terms["locality"]
                if not bool(torch.isfinite(total).all()):
                    raise ValueError(f"pivotal tuning diverged (NaN loss) at step {step}; try a lower lr")
                optimizer.zero_grad(set_to_none=True)
                total.sum().backward()
                optimizer.step()
                yield self._event(step, {**terms, "total": total}, False, tuned)
        finally:
            tuned.requires_grad_(False)

    def tune(self, generator: AnyGenerator, pivots: Latents, targets: Tensor) -> TuningResult:
        """Run all steps (see `steps`) and return the tuned copy."""
        history: list[Tensor] = []
        last: TuningStep | None = None
        for last in self.steps(generator, pivots, targets):
            history.append(last.losses["total"])
        assert last is not None
        return TuningResult(
            generator=last.generator,
            num_steps=last.step if last.converged else last.step + 1,
            converged=last.converged,
            losses=last.losses,
            loss_history=torch.stack(history),
            tuned=tuple(self.tuned_parameters(generator)),
        )

    def _features(self, targets: Tensor) -> list[Tensor]:
        if self.perceptual is None or not self.perceptual_weight:
            return []
        return self.perceptual.target_features(targets)

    def _terms(self, images: Tensor, targets: Tensor, target_features: list[Tensor]) -> dict[str, Tensor]:
        terms = {"mse": mse_loss(images, targets)}
        total = self.l2_weight * terms["mse"]
        if self.perceptual is not None and self.perceptual_weight:
            terms["perceptual"] = self.perceptual.distance(images, target_features)
            total = total + self.perceptual_weight * terms["perceptual"]
        terms["total"] = total
        return terms

    def _locality(self, tuned: AnyGenerator, base: AnyGenerator, ws: Tensor, stream: torch.Generator) -> Tensor:
        """PTI's regulariser `[N]`: one code per pivot, `locality_alpha` away from it towards a random code."""
        z = torch.randn([ws.shape[0], base.z_dim], generator=stream).to(ws.device)
        with torch.no_grad():
            w_z = base.mapping(z, truncation_psi=self.locality_psi)
            direction = w_z - ws
            norm = direction.flatten(1).norm(dim=1).clamp_min(1e-8)[:, None, None]
            w_r = ws + self.locality_alpha * direction / norm
            reference = base.synthesis(w_r, noise_mode="const")
        features = self._features(reference)
        images = tuned.synthesis(w_r, noise_mode="const", fused_modconv=False)
        return self._terms(images, reference, features)["total"]

    def _event(self, step: int, terms: dict[str, Tensor], converged: bool, tuned: AnyGenerator) -> TuningStep:
        losses = {key: value.detach().cpu() for key, value in terms.items()}
        return TuningStep(step=step, num_steps=self.num_steps, losses=losses, converged=converged, generator=tuned)
