"""The encoder training run around an `EncoderTrainer`: steps until `total_steps`, with validation grids, encoder
snapshots and resumable state written into the run folder on schedule (by the main process only).

Run folder: `encoder_training_options.json`, `val-init.png` and `val{step:07d}.png` (per column a validation
image over its reconstruction), `encoder-{step:07d}.safetensors` (native encoder files), `state.pt` /
`state-prev.pt` (the GAN trainer's resumable-state files, in the encoder's format).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from stylegan_edit.encoders.checkpoint import save_encoder
from stylegan_edit.encoders.trainer import ENCODER_STATE_FORMAT, EncoderStepStats, EncoderTrainer
from stylegan_edit.files import atomic_path, remove_stale_temporaries
from stylegan_edit.images import make_grid, save_pil, to_pil
from stylegan_edit.perceptual.reconstruction import psnr
from stylegan_edit.training.state import save_state

OPTIONS_FILE = "encoder_training_options.json"
GRID_COLUMNS = 8

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderProgress:
    """One finished step, the validation PSNR when a grid was written, and the files written after it."""

    stats: EncoderStepStats
    val_psnr: float | None = None
    written: list[Path] = field(default_factory=list)
    done: bool = False


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def write_validation(trainer: EncoderTrainer, targets: Tensor, path: Path) -> float:
    """Tile validation targets over their reconstructions (rows of `GRID_COLUMNS`); return the mean PSNR."""
    reconstructions = trainer.reconstruct(targets)
    tiles = []
    for start in range(0, targets.shape[0], GRID_COLUMNS):
        tiles += to_pil(targets[start : start + GRID_COLUMNS]) + to_pil(reconstructions[start : start + GRID_COLUMNS])
    save_pil(make_grid(tiles, ncols=min(GRID_COLUMNS, targets.shape[0])), path)
    return float(psnr(reconstructions, targets.cpu()).mean())


def write_snapshot(trainer: EncoderTrainer, path: Path, metadata: dict[str, str] | None = None) -> Path:
    """The encoder as a native encoder file, with its step and the training options as metadata."""
    meta = {**(metadata or {}), "step": str(trainer.step_index), "training_options": trainer.options.to_json()}
    save_encoder(path, trainer.encoder, metadata=meta)
    return path


def run_encoder_training(
    trainer: EncoderTrainer, run_dir: str | Path, validation: Tensor, *, metadata: dict[str, str] | None = None
) -> Iterator[EncoderProgress]:
    """Step until `options.total_steps`, yielding after each step; the last `EncoderProgress` has `done=True`.

    validation: fixed images `[N, 3, R, R]` in [-1, 1] whose reconstructions the grids show. A fresh run first
    writes the options and `val-init.png`; the end of training always writes a grid, a snapshot and the state.
    `metadata` (data source, network) goes into snapshots and states. Only rank 0 writes; every rank steps.
    Temporary files that a killed run left in `run_dir` are deleted first.
    """
    run_dir = Path(run_dir)
    opts = trainer.options
    main = trainer.distributed.is_main
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)
        with atomic_path(run_dir / OPTIONS_FILE) as tmp:
            tmp.write_text(opts.to_json() + "\n")
        if trainer.step_index == 0:
            write_validation(trainer, validation, run_dir / "val-init.png")
    while trainer.step_index < opts.total_steps:
        stats = trainer.step()
        step = trainer.step_index
        done = step >= opts.total_steps
        written: list[Path] = []
        val_psnr = None
        if main:
            if done or _due(step, opts.val_every):
                path = run_dir / f"val{step:07d}.png"
                val_psnr = write_validation(trainer, validation, path)
                written.append(path)
            if done or _due(step, opts.snapshot_every):
                written.append(write_snapshot(trainer, run_dir / f"encoder-{step:07d}.safetensors", metadata))
            if done or _due(step, opts.state_every):
                state = {**trainer.state_dict(), "metadata": dict(metadata or {})}
                written.append(save_state(run_dir, state, state_format=ENCODER_STATE_FORMAT))
        yield EncoderProgress(stats, val_psnr, written, done)


def validation_images(trainer: EncoderTrainer, reals: Tensor, *, num_synthetic: int = GRID_COLUMNS) -> Tensor:
    """`reals` followed by the generator's images for seeds 0.. (NVIDIA's seed -> z, constant noise)."""
    from stylegan_edit.generators.sampling import generate_from_seeds

    with torch.no_grad():
        fakes = generate_from_seeds(trainer.generator, list(range(num_synthetic)), noise_mode="const")
    return torch.cat([reals.cpu(), fakes])
