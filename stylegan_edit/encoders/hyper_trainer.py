"""Training HyperStyle (arXiv:2111.15666) as its official coach does: a frozen W encoder and generator, and per batch
`iterations` hypernetwork passes, each back-propagating pixel L2 + perceptual distance of its reconstruction
before one optimiser update. The data order depends on (seed, step) only, so resuming is exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from stylegan_edit.encoders.config import EncoderConfig, generator_fingerprint
from stylegan_edit.encoders.encoder import StyleEncoder, build_encoder
from stylegan_edit.encoders.hyperstyle import Deltas, HyperNetwork, HyperStyle, accumulate
from stylegan_edit.encoders.hyperstyle_config import RESUMABLE_CHANGES, HyperStyleTrainingOptions
from stylegan_edit.encoders.trainer import resolve_perceptual
from stylegan_edit.files import load_strict
from stylegan_edit.generators import Generator, Network
from stylegan_edit.perceptual.losses import mse_loss
from stylegan_edit.training.data import step_loader
from stylegan_edit.training.state import capture_rng, check_resume_changes, check_resumed_options, restore_rng

HYPERSTYLE_STATE_FORMAT = "stylegan-edit/hyperstyle-training-state"
HYPERSTYLE_STATE_KEYS = ("options", "hypernet", "optimizer", "w_encoder", "w_encoder_config", "step", "rng")


@dataclass(frozen=True)
class HyperStepStats:
    """What one step did: the batch means of the last iteration's loss terms (`total` weighted), every
    iteration's total in order, and the wall time."""

    step: int
    losses: dict[str, float]
    iteration_totals: tuple[float, ...]
    batch: int
    seconds: float


class HyperStyleTrainer:
    """Train a HyperStyle hypernetwork for `network.generator` with the frozen `w_encoder` on `dataset` images
    `[3, R, R]` in [-1, 1] (or `(image, label)` items). Learned state: `hyperstyle.hypernet`, `optimizer`,
    `step_index`."""

    def __init__(
        self,
        options: HyperStyleTrainingOptions,
        network: Network,
        dataset: Dataset[Any],
        w_encoder: StyleEncoder,
        *,
        device: torch.device | str = "cpu",
        num_workers: int = 0,
    ) -> None:
        generator = network.generator
        if not isinstance(generator, Generator):
            raise ValueError("HyperStyle tunes a StyleGAN2 generator's convolutions; StyleGAN3 is not supported")
        self.options = options
        self.device = torch.device(device)
        self.dataset = dataset
        self.num_workers = num_workers
        generator = generator.to(self.device)
        if network.discriminator is not None:  # its features may serve as the perceptual distance
            network.discriminator.to(self.device).eval().requires_grad_(False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed)
            hypernet = HyperNetwork(options.hyperstyle)
        self.hyperstyle = HyperStyle(hypernet, w_encoder.to(self.device), generator).to(self.device)
        self.hyperstyle.hypernet.train()
        self.optimizer = torch.optim.Adam(hypernet.parameters(), lr=options.lr, betas=options.betas)
        self.perceptual = resolve_perceptual(options.perceptual, network) if options.perceptual_weight else None
        self.step_index = 0
        self._batches: Iterator[Tensor] | None = None

    @property
    def generator(self) -> Generator:
        return self.hyperstyle.generator

    def _targets(self) -> Tensor:
        if self._batches is None:
            self._batches = step_loader(
                self.dataset,
                self.options.batch,
                seed=self.options.seed,
                start_step=self.step_index,
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

    def losses(self, images: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """The loss terms (batch means) of reconstructions `images` of `targets`, `total` weighted."""
        opts = self.options
        terms = {"mse": mse_loss(images, targets).mean()}
        total = opts.mse_weight * terms["mse"]
        if self.perceptual is not None:
            terms["perceptual"] = self.perceptual(images, targets).mean()
            total = total + opts.perceptual_weight * terms["perceptual"]
        terms["total"] = total
        return terms

    def step(self) -> HyperStepStats:
        """One update from one batch: `iterations` passes, each from the previous (detached) reconstruction and
        offsets, their gradients summed."""
        start = time.perf_counter()
        targets = self._targets()
        codes, current = self.hyperstyle.initial(targets)
        self.optimizer.zero_grad(set_to_none=True)
        deltas: Deltas | None = None
        totals = []
        terms: dict[str, Tensor] = {}
        for _ in range(self.options.iterations):
            previous: Deltas | None = (
                None if deltas is None else [d.detach() if d is not None else None for d in deltas]
            )
            deltas = accumulate(previous, self.hyperstyle.hypernet(torch.cat([targets, current], dim=1)))
            images = self.hyperstyle.render(codes, deltas)
            terms = self.losses(images, targets)
            if not bool(torch.isfinite(terms["total"])):
                raise ValueError(f"HyperStyle training diverged (NaN loss) at step {self.step_index}; try a lower --lr")
            terms["total"].backward()
            totals.append(float(terms["total"].detach()))
            current = images.detach()
        self.optimizer.step()
        self.step_index += 1
        values = {name: float(value.detach()) for name, value in terms.items()}
        return HyperStepStats(self.step_index - 1, values, tuple(totals), targets.shape[0], time.perf_counter() - start)

    @torch.no_grad()
    def reconstruct(self, targets: Tensor, *, batch_size: int = 8) -> tuple[Tensor, Tensor]:
        """The W encoder's and HyperStyle's reconstructions `[N, 3, R, R]` (on the CPU) of `targets`, with the
        training's number of iterations."""
        self.hyperstyle.hypernet.eval()
        initial, final = [], []
        try:
            for first in range(0, targets.shape[0], batch_size):
                result = self.hyperstyle.invert(targets[first : first + batch_size], self.options.iterations)
                initial.append(result.initial.cpu())
                final.append(result.images[-1].cpu())
        finally:
            self.hyperstyle.hypernet.train()
        return torch.cat(initial), torch.cat(final)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (the W encoder too), as plain tensors, numbers and strings."""
        return {
            "options": self.options.to_json(),
            "hypernet": self.hyperstyle.hypernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "w_encoder": self.hyperstyle.w_encoder.state_dict(),
            "w_encoder_config": self.hyperstyle.w_encoder.config.to_json(),
            "generator_fingerprint": self.hyperstyle.generator_fingerprint,
            "step": self.step_index,
            "rng": capture_rng(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`'s output: same options (but the scheduling ones) and generator."""
        saved = HyperStyleTrainingOptions.from_json(state["options"])
        check_resumed_options(saved, self.options, RESUMABLE_CHANGES)
        if state.get("generator_fingerprint") != generator_fingerprint(self.generator):
            raise ValueError("the saved training state was made with another generator; pass the run's --network")
        load_strict(self.hyperstyle.hypernet, state["hypernet"], "the training state")
        load_strict(self.hyperstyle.w_encoder, state["w_encoder"], "the training state")
        self.optimizer.load_state_dict(state["optimizer"])
        self.step_index = int(state["step"])
        restore_rng(state["rng"])
        self._batches = None

    def start_from(self, hyperstyle: HyperStyle, step: int) -> None:
        """Fine-tune: take `hyperstyle`'s hypernetwork weights (same config) and count on from `step`; the
        optimiser starts fresh."""
        if hyperstyle.config != self.options.hyperstyle:
            raise ValueError("the HyperStyle to continue has another architecture than the training options")
        load_strict(self.hyperstyle.hypernet, hyperstyle.hypernet.state_dict(), "the HyperStyle file")
        self.step_index = step
        self._batches = None

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any],
        network: Network,
        dataset: Dataset[Any],
        *,
        device: torch.device | str = "cpu",
        num_workers: int = 0,
        **changes: Any,
    ) -> HyperStyleTrainer:
        """Rebuild a trainer (and its W encoder) from a saved state; `changes` may set the scheduling options."""
        check_resume_changes(changes, RESUMABLE_CHANGES)
        options = HyperStyleTrainingOptions.from_json(state["options"]).replace(**changes)
        w_encoder = build_encoder(EncoderConfig.from_json(state["w_encoder_config"]))
        load_strict(w_encoder, state["w_encoder"], "the training state")
        trainer = cls(options, network, dataset, w_encoder, device=device, num_workers=num_workers)
        trainer.load_state_dict(state)
        return trainer
