"""GAN training as one call: a new run from a preset (or a fine-tune of a checkpoint) or a resumed run, with the
rules of what a resumed run may change in one place (`resume_options`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from stylegan_edit.formats.native import load_network
from stylegan_edit.generators import DiscriminatorConfig, Network
from stylegan_edit.metrics.ms_ssim import MIN_SIZE as MS_SSIM_MIN_SIZE
from stylegan_edit.training import (
    Distributed,
    Progress,
    Trainer,
    TrainingOptions,
    load_state,
    preset,
    run_training,
    setup_distributed,
    shutdown_distributed,
)
from stylegan_edit.training.data import DEFAULT_SYNTHFACES_NUM, describe_dataset, open_dataset
from stylegan_edit.training.state import PREVIOUS_STATE_FILE, STATE_FILE, ResumeError, check_resume_changes
from stylegan_edit.training.trainer import RESUMABLE_CHANGES
from stylegan_edit.workflow.small_data import DEFAULT_SNAPSHOT_NUM

DEFAULT_CONFIG = "synthfaces-64"
# What a resumed GAN run may change: the options of `training.trainer.RESUMABLE_CHANGES` (scheduling, batch, lr,
# gamma, the mbstd group, the EMA half-life, ADA's target and speed: see there why), where the data is, and how the
# run is executed and measured.
GAN_RESUME_CHANGEABLE = frozenset(RESUMABLE_CHANGES) | {"data", "num_workers", "device", "snapshot_metrics"}
# stylegan2-ada-pytorch's `ada_kimg` when it starts from a trained network: p must react faster at the beginning.
TRANSFER_ADA_KIMG = 100.0
__all__ = [
    "GAN_RESUME_CHANGEABLE",
    "GanRun",
    "ResumeError",
    "check_new_run_dir",
    "check_resume_changes",
    "joined",
    "open_gan_run",
    "prepared_everywhere",
    "resume_options",
    "train_gan",
    "training_options",
]

T = TypeVar("T")

logger = logging.getLogger(__name__)


def resume_options(state: Mapping[str, Any] | str | Path, **changes: Any) -> TrainingOptions:
    """The options of a saved GAN run (a state dict, or a run folder) with `changes` applied.

    changes: `TrainingOptions` fields (and `mbstd_group_size`); only those in `RESUMABLE_CHANGES` may change (e.g.
    `total_kimg`, `lr`, `gamma`, `batch`, `ema_kimg`), any other raises `ResumeError` naming it; an unknown name
    raises `ValueError`.
    """
    known = {f.name for f in fields(TrainingOptions)} | {"mbstd_group_size"}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown training option {unknown[0]!r}")
    check_resume_changes(changes, RESUMABLE_CHANGES)
    document = load_state(state).state if isinstance(state, str | Path) else state
    return TrainingOptions.from_json(document["options"]).replace(**changes)


def training_options(
    config: str = DEFAULT_CONFIG, *, network: Network | None = None, **changes: Any
) -> TrainingOptions:
    """The options of a new run: the preset `config` (`synthfaces-64`, `tiny`) with `changes` to its fields.

    network: fine-tune this checkpoint: the networks take its generator's config and its discriminator's (a fresh
    discriminator of matching size when it has none).
    """
    options = preset(config).replace(**changes)
    if network is None:
        return options
    g_config = network.generator.config
    if network.discriminator is not None:
        d_config = network.discriminator.config
    else:
        d_config = DiscriminatorConfig(
            img_resolution=g_config.img_resolution,
            img_channels=g_config.img_channels,
            channel_base=g_config.channel_base,
            channel_max=g_config.channel_max,
        )
    return options.replace(generator=g_config, discriminator=d_config)


@dataclass(frozen=True)
class GanRun:
    """A GAN run ready to step: its trainer, folder, the metadata its snapshots and states record, and one-line
    notes for the user (state fallbacks, where it resumes, the data). `steps()` trains to `total_kimg`;
    `snapshot_metrics` generated images measure each snapshot (KID, MS-SSIM; 0: none)."""

    trainer: Trainer
    run_dir: Path
    metadata: dict[str, str]
    notes: tuple[str, ...]
    snapshot_metrics: int = 0

    @property
    def total_nimg(self) -> int:
        return round(self.trainer.options.total_kimg * 1000)

    def steps(self) -> Iterator[Progress]:
        """Train until `total_kimg`, writing grids, snapshots and states on schedule (`training.run_training`) and,
        with `snapshot_metrics`, a line of `snapshot_metrics.jsonl` per snapshot (`workflow.small_data`)."""
        steps = run_training(self.trainer, self.run_dir, metadata=self.metadata)
        if self.snapshot_metrics <= 0 or not self.trainer.distributed.is_main:
            return steps
        from stylegan_edit.workflow.small_data import SnapshotMetrics, with_snapshot_metrics

        return with_snapshot_metrics(steps, SnapshotMetrics(self.trainer, num=self.snapshot_metrics), self.run_dir)


@contextmanager
def joined(device: str = "cpu") -> Iterator[Distributed]:
    """Join the torchrun process group (or run alone) on `device`, and always leave it."""
    distributed = setup_distributed(device)
    try:
        yield distributed
    finally:
        shutdown_distributed()


def prepared_everywhere(distributed: Distributed, prepare: Callable[[], T]) -> T:
    """`prepare()`'s result, once every process has prepared: a failure on any process stops them all."""
    try:
        prepared = prepare()
    except (ValueError, OSError):
        # A replica that fails alone would leave the others waiting for it forever in their first collective.
        distributed.all_succeeded(False)
        raise
    if not distributed.all_succeeded(True):
        raise ValueError("another training process failed to start; see its message")
    return prepared


def check_new_run_dir(run_dir: Path, *, create: bool = True) -> None:
    """Refuse a folder that already holds a run; with `create` (the main process) make it and check it is
    writable."""
    if (run_dir / STATE_FILE).exists() or (run_dir / PREVIOUS_STATE_FILE).exists():
        raise ValueError(f"{run_dir} already holds a training run; continue it with --resume {run_dir}")
    if not create:
        return
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create output folder {run_dir}: {exc.strerror}") from None
    probe = run_dir / ".write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"cannot write to run folder {run_dir}: {exc.strerror}") from None


def open_gan_run(
    run_dir: str | Path,
    *,
    data: str | None = None,
    resume: bool = False,
    config: str | None = None,
    fine_tune: str | Path | None = None,
    changes: Mapping[str, Any] | None = None,
    synthfaces_num: int | None = None,
    snapshot_metrics: int | None = None,
    distributed: Distributed | None = None,
    num_workers: int = 0,
) -> GanRun:
    """A new GAN run in `run_dir`, or (`resume=True`) the run saved there, ready to step.

    data: an image folder, `synthfaces:photo` or `synthfaces:toon` (needed for a new run; a resumed run reads the
    one it recorded unless given). config: the preset of a new run (default `synthfaces-64`). fine_tune: start a
    new run from this checkpoint or bundled name (with `augment="ada"`, `ada_kimg` defaults to
    `TRANSFER_ADA_KIMG`). changes: `TrainingOptions` fields to set (a resumed run: only those `resume_options`
    allows). synthfaces_num: faces in a `synthfaces:` dataset (default 50,000; a resumed run keeps its own).
    snapshot_metrics: generated images for the KID and MS-SSIM of each snapshot (default: `DEFAULT_SNAPSHOT_NUM`
    for a fine-tune, else 0; a resumed run keeps its own unless given). Raises `ResumeError` for an input a
    resumed run cannot change, `ValueError` for bad data or a folder that already holds a run; on any process's
    failure every process raises.
    """
    distributed = distributed or Distributed()
    changes = dict(changes or {})
    run_dir = Path(run_dir)
    if resume:
        given = {"config": config, "fine_tune": fine_tune, "synthfaces_num": synthfaces_num}
        check_resume_changes(
            [*changes, *(name for name, value in given.items() if value is not None)], GAN_RESUME_CHANGEABLE
        )
        prepared = prepared_everywhere(distributed, lambda: _resumed(run_dir, data, changes, snapshot_metrics))
    else:
        if data is None:
            raise ValueError("a new run needs its training data (an image folder or synthfaces:photo)")
        num = synthfaces_num if synthfaces_num is not None else DEFAULT_SYNTHFACES_NUM
        if fine_tune is not None and changes.get("augment") == "ada":
            changes.setdefault("ada_kimg", TRANSFER_ADA_KIMG)
        config = config or DEFAULT_CONFIG
        new = partial(_new, run_dir, data, config, fine_tune, changes, num, snapshot_metrics, distributed.is_main)
        prepared = prepared_everywhere(distributed, new)
    # The replicas talk from here on (the trainer broadcasts rank 0's weights), so every one builds it.
    trainer = Trainer(
        prepared.options, prepared.dataset, network=prepared.network, distributed=distributed, num_workers=num_workers
    )
    if prepared.state is not None:
        trainer.load_state_dict(prepared.state)
    if trainer.cur_nimg >= round(trainer.options.total_kimg * 1000):
        raise ValueError(f"{run_dir} has already trained {trainer.cur_nimg / 1000:.3f} kimg; raise --kimg to go on")
    data_note = f"data: {describe_dataset(prepared.dataset, prepared.metadata['data'])}"
    metrics = int(prepared.metadata["snapshot_metrics"])
    return GanRun(trainer, run_dir, prepared.metadata, (*prepared.notes, data_note), metrics)


def _snapshot_metrics(metadata: dict[str, str], given: int | None, resolution: int) -> str:
    """The run's `snapshot_metrics`: as given, else as recorded, else `DEFAULT_SNAPSHOT_NUM` for a fine-tune."""
    default = DEFAULT_SNAPSHOT_NUM if "resume_from" in metadata else 0
    num = given if given is not None else int(metadata.get("snapshot_metrics", default))
    if num < 0:
        raise ValueError(f"snapshot_metrics must not be negative, got {num}")
    if num and resolution < MS_SSIM_MIN_SIZE:
        raise ValueError(f"snapshot metrics (MS-SSIM) need images of at least {MS_SSIM_MIN_SIZE} px; pass 0")
    return str(num)


@dataclass(frozen=True)
class _Prepared:
    """What a run needs before its replicas first talk."""

    options: TrainingOptions
    dataset: Any
    metadata: dict[str, str]
    notes: tuple[str, ...]
    network: Network | None = None
    state: dict[str, Any] | None = None


def _new(
    run_dir: Path,
    data: str,
    config: str,
    fine_tune: str | Path | None,
    changes: dict[str, Any],
    synthfaces_num: int,
    snapshot_metrics: int | None,
    is_main: bool,
) -> _Prepared:
    notes = []
    network = load_network(fine_tune) if fine_tune is not None else None
    options = training_options(config, network=network, **changes)
    metadata = {"data": data, "synthfaces_num": str(synthfaces_num)}
    if network is not None:
        metadata["resume_from"] = str(fine_tune)
        if network.discriminator is None:
            notes.append(f"warning: {fine_tune} has no discriminator; training a fresh one from scratch")
    dataset = open_dataset(data, options.resolution, synthfaces_num=synthfaces_num)
    metadata["snapshot_metrics"] = _snapshot_metrics(metadata, snapshot_metrics, options.resolution)
    check_new_run_dir(run_dir, create=is_main)  # only once the options and data are known to be good
    return _Prepared(options, dataset, metadata, tuple(notes), network=network)


def _resumed(run_dir: Path, data: str | None, changes: dict[str, Any], snapshot_metrics: int | None) -> _Prepared:
    loaded = load_state(run_dir)
    options = resume_options(loaded.state, **changes)
    metadata = {str(k): str(v) for k, v in loaded.state.get("metadata", {}).items()}
    metadata["data"] = data or metadata.get("data", "")
    if not metadata["data"]:
        raise ValueError(f"{loaded.path} does not record its data; pass --data")
    num = int(metadata.get("synthfaces_num", DEFAULT_SYNTHFACES_NUM))
    dataset = open_dataset(metadata["data"], options.resolution, synthfaces_num=num)
    metadata["snapshot_metrics"] = _snapshot_metrics(metadata, snapshot_metrics, options.resolution)
    resuming = f"resuming {run_dir} at {loaded.state['cur_nimg'] / 1000:.3f} kimg from {loaded.path.name}"
    return _Prepared(options, dataset, metadata, (*loaded.notes, resuming), state=loaded.state)


def train_gan(
    run_dir: str | Path,
    *,
    data: str | None = None,
    resume: bool = False,
    config: str | None = None,
    fine_tune: str | Path | None = None,
    changes: Mapping[str, Any] | None = None,
    synthfaces_num: int | None = None,
    snapshot_metrics: int | None = None,
    device: str = "cpu",
    num_workers: int = 0,
    progress: Callable[[Progress], None] | None = None,
) -> GanRun:
    """Train a StyleGAN2 (config e) to its `total_kimg` in `run_dir`: what `stylegan-edit train` does.

    The arguments are `open_gan_run`'s; `progress` is called after every step. Each note is logged. Under torchrun
    every process calls this and joins the process group (on CUDA each takes the GPU of its local rank).
    """
    with joined(device) as distributed:
        run = open_gan_run(
            run_dir,
            data=data,
            resume=resume,
            config=config,
            fine_tune=fine_tune,
            changes=changes,
            synthfaces_num=synthfaces_num,
            snapshot_metrics=snapshot_metrics,
            distributed=distributed,
            num_workers=num_workers,
        )
        for note in run.notes:
            logger.info(note)
        for step in run.steps():
            if progress is not None:
                progress(step)
    return run
