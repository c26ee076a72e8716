"""The HyperStyle training run around a `HyperStyleTrainer`: steps until `total_steps`, with validation grids,
HyperStyle snapshots and resumable state written into the run folder on schedule.

Run folder: `hyperstyle_training_options.json`, `val-init.png` and `val{step:07d}.png` (per column a validation
image, the W encoder's reconstruction and HyperStyle's), `hyperstyle-{step:07d}.safetensors` (HyperStyle files),
`state.pt` / `state-prev.pt` (resumable state, `training.state`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor

from stylegan_edit.encoders.hyper_trainer import HYPERSTYLE_STATE_FORMAT, HyperStepStats, HyperStyleTrainer
from stylegan_edit.encoders.hyperstyle_files import save_hyperstyle
from stylegan_edit.files import atomic_path, remove_stale_temporaries
from stylegan_edit.images import make_grid, save_pil, to_pil
from stylegan_edit.perceptual.reconstruction import psnr
from stylegan_edit.training.state import save_state

OPTIONS_FILE = "hyperstyle_training_options.json"
GRID_COLUMNS = 8


@dataclass(frozen=True)
class HyperProgress:
    """One finished step, the validation PSNRs (W encoder, HyperStyle) when a grid was written, and the files
    written after it."""

    stats: HyperStepStats
    val_psnr: tuple[float, float] | None = None
    written: list[Path] = field(default_factory=list)
    done: bool = False


def write_validation(trainer: HyperStyleTrainer, targets: Tensor, path: Path) -> tuple[float, float]:
    """Tile targets over the W encoder's and HyperStyle's reconstructions; return both mean PSNRs."""
    initial, final = trainer.reconstruct(targets)
    tiles = []
    for start in range(0, targets.shape[0], GRID_COLUMNS):
        for row in (targets, initial, final):
            tiles += to_pil(row[start : start + GRID_COLUMNS])
    save_pil(make_grid(tiles, ncols=min(GRID_COLUMNS, targets.shape[0])), path)
    targets = targets.cpu()
    return float(psnr(initial, targets).mean()), float(psnr(final, targets).mean())


def write_snapshot(trainer: HyperStyleTrainer, path: Path, metadata: dict[str, str] | None = None) -> Path:
    """The HyperStyle as a HyperStyle file, with its step and the training options as metadata."""
    meta = {**(metadata or {}), "step": str(trainer.step_index), "training_options": trainer.options.to_json()}
    save_hyperstyle(path, trainer.hyperstyle, metadata=meta)
    return path


def run_hyperstyle_training(
    trainer: HyperStyleTrainer, run_dir: str | Path, validation: Tensor, *, metadata: dict[str, str] | None = None
) -> Iterator[HyperProgress]:
    """Step until `options.total_steps`, yielding after each step; the last `HyperProgress` has `done=True`.

    validation: fixed images `[N, 3, R, R]` in [-1, 1]. A fresh run first writes the options and `val-init.png`;
    the end always writes a grid, a snapshot and the state. `metadata` (data, network, W encoder) goes into
    snapshots and states. Temporary files a killed run left in `run_dir` are deleted first.
    """
    run_dir = Path(run_dir)
    opts = trainer.options
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
        if done or _due(step, opts.val_every):
            path = run_dir / f"val{step:07d}.png"
            val_psnr = write_validation(trainer, validation, path)
            written.append(path)
        if done or _due(step, opts.snapshot_every):
            written.append(write_snapshot(trainer, run_dir / f"hyperstyle-{step:07d}.safetensors", metadata))
        if done or _due(step, opts.state_every):
            state = {**trainer.state_dict(), "metadata": dict(metadata or {})}
            written.append(save_state(run_dir, state, state_format=HYPERSTYLE_STATE_FORMAT))
        yield HyperProgress(stats, val_psnr, written, done)


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0
