"""HyperStyle training as one call (arXiv:2111.15666): a new run for a generator and its e4e / pSp W encoder, a
fine-tune of a HyperStyle file, or a resumed run; what `stylegan-edit train-hyperstyle` does."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor

from stylegan_edit.assets import DEFAULT_NETWORK
from stylegan_edit.encoders import StyleEncoder, load_encoder
from stylegan_edit.encoders.hyper_trainer import HYPERSTYLE_STATE_FORMAT, HYPERSTYLE_STATE_KEYS, HyperStyleTrainer
from stylegan_edit.encoders.hyperstyle_config import (
    RESUMABLE_CHANGES,
    HyperStyleConfig,
    HyperStyleTrainingOptions,
)
from stylegan_edit.encoders.hyperstyle_files import read_hyperstyle
from stylegan_edit.encoders.hyperstyle_loop import HyperProgress, run_hyperstyle_training
from stylegan_edit.formats.native import load_network
from stylegan_edit.training import load_state
from stylegan_edit.training.data import DEFAULT_SYNTHFACES_NUM, describe_dataset, open_dataset
from stylegan_edit.training.state import check_resume_changes
from stylegan_edit.workflow.encoder_training import DEFAULT_DATA, validation_reals
from stylegan_edit.workflow.training import check_new_run_dir

DEFAULT_W_ENCODER = "e4e"
HYPERSTYLE_RESUME_CHANGEABLE = frozenset(RESUMABLE_CHANGES) | {"data", "network", "num_workers", "device"}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HyperStyleRun:
    """A HyperStyle run ready to step: its trainer, folder, the fixed validation images `[N, 3, R, R]`, the metadata
    its snapshots and states record, and one-line notes for the user."""

    trainer: HyperStyleTrainer
    run_dir: Path
    validation: Tensor
    metadata: dict[str, str]
    notes: tuple[str, ...]

    def steps(self) -> Iterator[HyperProgress]:
        """Train until `total_steps`, writing grids, snapshots and states on schedule."""
        return run_hyperstyle_training(self.trainer, self.run_dir, self.validation, metadata=self.metadata)


def open_hyperstyle_run(
    run_dir: str | Path,
    *,
    network: str | Path | None = None,
    encoder: str | Path | None = None,
    data: str | None = None,
    resume: bool = False,
    fine_tune: str | Path | None = None,
    changes: Mapping[str, Any] | None = None,
    synthfaces_num: int | None = None,
    device: str = "cpu",
    num_workers: int = 0,
) -> HyperStyleRun:
    """A new HyperStyle run in `run_dir`, or (`resume=True`) the run saved there, ready to step.

    network: the generator (default `synthfaces-64`; a resumed run: the one it recorded). encoder: the frozen W
    encoder, ours (`e4e` / `psp`: the bundled one, default `e4e`; or a file). fine_tune: a HyperStyle file whose
    hypernetwork, W encoder, options and step count go on (`changes` override its options; the optimiser starts
    fresh). data: real images, an image folder or `synthfaces:photo|toon` (default `synthfaces:photo`). changes:
    `HyperStyleTrainingOptions` fields (a resumed run: the scheduling ones only). One-line `ValueError` for bad
    inputs (`ResumeError` for an input a resumed run cannot change).
    """
    changes = dict(changes or {})
    run_dir = Path(run_dir)
    notes: list[str] = []
    if resume:
        given = {"encoder": encoder, "fine_tune": fine_tune, "synthfaces_num": synthfaces_num}
        check_resume_changes([*changes, *(k for k, v in given.items() if v is not None)], RESUMABLE_CHANGES)
        loaded = load_state(run_dir, state_format=HYPERSTYLE_STATE_FORMAT, required=HYPERSTYLE_STATE_KEYS)
        metadata = {str(k): str(v) for k, v in loaded.state.get("metadata", {}).items()}
        metadata["network"] = str(network or metadata.get("network", DEFAULT_NETWORK))
        metadata["data"] = data or metadata.get("data", DEFAULT_DATA)
        loaded_network = load_network(metadata["network"], device=device)
        num = int(metadata.get("synthfaces_num", DEFAULT_SYNTHFACES_NUM))
        dataset = open_dataset(metadata["data"], loaded_network.generator.img_resolution, synthfaces_num=num)
        trainer = HyperStyleTrainer.from_state(
            loaded.state, loaded_network, dataset, device=device, num_workers=num_workers, **changes
        )
        notes += [*loaded.notes, f"resuming {run_dir} at step {trainer.step_index} from {loaded.path.name}"]
    else:
        num = synthfaces_num if synthfaces_num is not None else DEFAULT_SYNTHFACES_NUM
        metadata = {
            "network": str(network or DEFAULT_NETWORK),
            "data": data or DEFAULT_DATA,
            "synthfaces_num": str(num),
        }
        loaded_network = load_network(network, device=device)
        generator = loaded_network.generator
        step = 0
        if fine_tune is not None:
            if encoder is not None:
                raise ValueError(f"--resume-from {fine_tune} keeps its own W encoder; leave out --encoder")
            previous = read_hyperstyle(fine_tune, generator)
            w_encoder = previous.w_encoder
            step = int(previous.metadata.get("step", "0"))
            saved = previous.metadata.get("training_options")
            base = HyperStyleTrainingOptions.from_json(saved) if saved else None
            options = (base or HyperStyleTrainingOptions(hyperstyle=previous.config)).replace(**changes)
            if options.total_steps <= step:
                raise ValueError(f"--resume-from {fine_tune} has trained {step} steps already; pass a larger --steps")
            metadata.update(w_encoder=previous.metadata.get("w_encoder", "unknown"), resumed_from=str(fine_tune))
            notes.append(f"fine-tuning {fine_tune} from step {step}")
        else:
            w_encoder = _w_encoder(encoder or DEFAULT_W_ENCODER, network, generator.device)
            w_encoder.check_generator(generator, f"the W encoder {encoder or DEFAULT_W_ENCODER}")
            options = HyperStyleTrainingOptions(hyperstyle=HyperStyleConfig.for_generator(generator), **changes)
            metadata["w_encoder"] = str(encoder or DEFAULT_W_ENCODER)
        dataset = open_dataset(metadata["data"], generator.img_resolution, synthfaces_num=num)
        check_new_run_dir(run_dir)
        trainer = HyperStyleTrainer(options, loaded_network, dataset, w_encoder, device=device, num_workers=num_workers)
        if fine_tune is not None:
            trainer.start_from(previous, step)
    notes.append(f"data: {describe_dataset(trainer.dataset, metadata['data'])}")
    if trainer.step_index >= trainer.options.total_steps:
        raise ValueError(f"{run_dir} has already trained {trainer.step_index} steps; raise --steps to go on")
    # validation_reals reads only the trainer's generator and dataset.
    validation = validation_reals(metadata["data"], cast(Any, trainer)).cpu()
    return HyperStyleRun(trainer, run_dir, validation, metadata, tuple(notes))


def _w_encoder(spec: str | Path, network: str | Path | None, device: torch.device) -> StyleEncoder:
    loaded = load_encoder(spec, network=network, device=device)
    if not isinstance(loaded, StyleEncoder) or loaded.arch not in ("psp", "e4e"):
        raise ValueError(f"the W encoder {spec} must be one of our pSp / e4e encoders (a file or a bundled name)")
    return loaded


def train_hyperstyle(
    run_dir: str | Path, *, progress: Callable[[HyperProgress], None] | None = None, **arguments: Any
) -> HyperStyleRun:
    """Train HyperStyle to its `total_steps` in `run_dir`; `arguments` are `open_hyperstyle_run`'s, `progress` is
    called after every step, each note is logged."""
    run = open_hyperstyle_run(run_dir, **arguments)
    for note in run.notes:
        logger.info(note)
    for step in run.steps():
        if progress is not None:
            progress(step)
    return run
