"""The training run around a `Trainer`: steps until `total_kimg`, with sample grids, network snapshots and
resumable state written into the run folder on schedule (by the main process only).

Run folder: `training_options.json`, `reals.png`, `fakes-init.png`, `fakes{kimg:06d}.png`,
`network-snapshot-{kimg:06d}.safetensors` (G_ema + D, native format), `state.pt` / `state-prev.pt`, and
`stats.jsonl`: one line per sample grid with the step's losses and the augmentation probability `augment_p`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from stylegan_edit.files import atomic_path, remove_stale_temporaries
from stylegan_edit.formats.native import save_network
from stylegan_edit.images import make_grid, save_pil, to_pil
from stylegan_edit.training.state import save_state
from stylegan_edit.training.trainer import StepStats, Trainer

GRID_COLUMNS = 8
GRID_ROWS = 8
OPTIONS_FILE = "training_options.json"
STATS_FILE = "stats.jsonl"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """One finished step and the files written after it (paths, for the progress log)."""

    stats: StepStats
    written: list[Path] = field(default_factory=list)
    done: bool = False


def _crossed(before: int, after: int, interval_kimg: float) -> bool:
    if interval_kimg <= 0:
        return False
    interval = interval_kimg * 1000
    return int(before // interval) != int(after // interval)


def grid_seeds() -> list[int]:
    return list(range(GRID_COLUMNS * GRID_ROWS))


def write_grid(trainer: Trainer, path: Path) -> Path:
    """G_ema's images for the fixed grid seeds, tiled into one PNG."""
    save_pil(make_grid(to_pil(trainer.sample(grid_seeds())), ncols=GRID_COLUMNS), path)
    return path


def write_reals(trainer: Trainer, path: Path) -> Path:
    """The first dataset images, tiled like the sample grids."""
    count = min(len(trainer.dataset), GRID_COLUMNS * GRID_ROWS)  # type: ignore[arg-type]
    items = [trainer.dataset[i] for i in range(count)]
    images = torch.stack([item[0] if isinstance(item, tuple | list) else item for item in items])
    save_pil(make_grid(to_pil(images), ncols=GRID_COLUMNS), path)
    return path


def write_snapshot(trainer: Trainer, path: Path, metadata: dict[str, str] | None = None) -> Path:
    """G_ema and D in the native network format, with the kimg, training options and (with augmentation) the
    augmentation probability as metadata."""
    meta = {**(metadata or {}), "kimg": f"{trainer.cur_nimg / 1000:.3f}", "training_options": trainer.options.to_json()}
    if trainer.augmentation is not None:
        meta["augment_p"] = f"{trainer.augment_p:.6f}"
    save_network(path, trainer.generator_ema, trainer.discriminator, metadata=meta)
    return path


def append_record(path: Path, record: Mapping[str, Any], *, key: str = "kimg") -> Path:
    """Add `record` as the last line of the JSON-lines file `path`, first dropping lines whose `key` (a number) is
    not below the record's (what a resumed run repeats); the file is rewritten whole under a temporary name."""
    lines = path.read_text().splitlines() if path.exists() else []
    limit = float(record[key])
    kept = [line for line in lines if line.strip() and float(json.loads(line).get(key, -1)) < limit]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in [*kept, json.dumps(dict(record), sort_keys=True)]))
    return path


def write_stats(stats: StepStats, path: Path) -> Path:
    """One line of `stats.jsonl`: the step's kimg, losses, D outputs and augmentation probability."""
    record = {
        "kimg": round(stats.kimg, 6),
        "step": stats.step,
        "loss_g": stats.loss_g,
        "loss_d": stats.loss_d,
        "d_real": stats.d_real,
        "d_fake": stats.d_fake,
        "augment_p": stats.augment_p,
    }
    return append_record(path, record)


def write_options(trainer: Trainer, run_dir: Path) -> Path:
    path = run_dir / OPTIONS_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(trainer.options.to_json() + "\n")
    return path


def run_training(
    trainer: Trainer, run_dir: str | Path, *, metadata: dict[str, str] | None = None
) -> Iterator[Progress]:
    """Step until `options.total_kimg`, yielding after each step; the last `Progress` has `done=True`.

    A fresh run first writes the options, the reals and the initial fakes; the end of training always writes a
    grid, a snapshot and the state. `metadata` (e.g. the data source) goes into snapshots and states. In a
    data-parallel run only rank 0 writes, and every rank steps. Temporary files that a killed run left in
    `run_dir` are deleted first.
    """
    run_dir = Path(run_dir)
    opts = trainer.options
    main = trainer.distributed.is_main
    total_nimg = round(opts.total_kimg * 1000)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)
        write_options(trainer, run_dir)
        if trainer.step_index == 0:
            write_reals(trainer, run_dir / "reals.png")
            write_grid(trainer, run_dir / "fakes-init.png")
    while trainer.cur_nimg < total_nimg:
        before = trainer.cur_nimg
        stats = trainer.step()
        after = trainer.cur_nimg
        done = after >= total_nimg
        written: list[Path] = []
        if main:
            tag = f"{after // 1000:06d}"
            if done or _crossed(before, after, opts.grid_kimg):
                written.append(write_grid(trainer, run_dir / f"fakes{tag}.png"))
                write_stats(stats, run_dir / STATS_FILE)
            if done or _crossed(before, after, opts.snapshot_kimg):
                written.append(write_snapshot(trainer, run_dir / f"network-snapshot-{tag}.safetensors", metadata))
            if done or _crossed(before, after, opts.state_kimg):
                written.append(save_state(run_dir, {**trainer.state_dict(), "metadata": dict(metadata or {})}))
        yield Progress(stats, written, done)
