"""Encoder training as one call: a new pSp / e4e / ReStyle run (defaults per base architecture from
`ARCH_DEFAULTS`), a fine-tune of an encoder file (retargeted to another generator of the same shape; a pSp / e4e
file given with `arch="restyle-psp"` / `"restyle-e4e"` warm-starts its ReStyle variant), or a resumed run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stylegan_edit.assets import DEFAULT_NETWORK
from stylegan_edit.encoders import (
    EncoderConfig,
    EncoderProgress,
    EncoderTrainer,
    EncoderTrainingOptions,
    StyleEncoder,
    load_encoder,
    run_encoder_training,
)
from stylegan_edit.encoders.config import RESTYLE_PREFIX
from stylegan_edit.encoders.encoder import restyle_from
from stylegan_edit.encoders.loop import validation_images
from stylegan_edit.encoders.options import RESUMABLE_CHANGES
from stylegan_edit.encoders.trainer import ENCODER_STATE_FORMAT, ENCODER_STATE_KEYS
from stylegan_edit.formats.native import load_network
from stylegan_edit.generators import Network
from stylegan_edit.training import Distributed, load_state
from stylegan_edit.training.data import (
    DEFAULT_SYNTHFACES_NUM,
    SYNTHFACES_PREFIX,
    collate_images,
    describe_dataset,
    open_dataset,
)
from stylegan_edit.training.state import check_resume_changes
from stylegan_edit.workflow.training import check_new_run_dir, joined, prepared_everywhere

DEFAULT_DATA = "synthfaces:photo"
BACKBONE_INITS = ("random", "classifier")
# The papers' loss weights per architecture (pSp: W-norm 0.005; e4e: delta 2e-4, latent adversarial 0.1); the
# other `EncoderTrainingOptions` fields default alike for both.
ARCH_DEFAULTS: dict[str, dict[str, float]] = {
    "psp": {"w_norm_weight": 0.005},
    "e4e": {"delta_weight": 2e-4, "adv_weight": 0.1},
}
# What a resumed encoder run may change: the scheduling options (they do not alter the run), the data, the
# generator file (the state checks its fingerprint) and how the run is executed.
ENCODER_RESUME_CHANGEABLE = frozenset(RESUMABLE_CHANGES) | {"data", "network", "num_workers", "device"}
VALIDATION_REALS = 8

logger = logging.getLogger(__name__)


def encoder_options(config: EncoderConfig, **changes: Any) -> EncoderTrainingOptions:
    """The options of a new run for the encoder `config`: `ARCH_DEFAULTS[config.base_arch]`, then `changes`."""
    return EncoderTrainingOptions(encoder=config, **{**ARCH_DEFAULTS[config.base_arch], **changes})


@dataclass(frozen=True)
class EncoderRun:
    """An encoder run ready to step: its trainer, folder, the fixed validation images `[N, 3, R, R]` its grids
    show, the metadata its snapshots and states record, and one-line notes for the user."""

    trainer: EncoderTrainer
    run_dir: Path
    validation: Tensor
    metadata: dict[str, str]
    notes: tuple[str, ...]

    def steps(self) -> Iterator[EncoderProgress]:
        """Train until `total_steps`, writing grids, snapshots and states on schedule."""
        return run_encoder_training(self.trainer, self.run_dir, self.validation, metadata=self.metadata)


@dataclass(frozen=True)
class _Prepared:
    network: Network
    options: EncoderTrainingOptions | None
    dataset: Any
    metadata: dict[str, str]
    notes: tuple[str, ...]
    state: dict[str, Any] | None = None
    encoder: StyleEncoder | None = None
    step: int = 0
    classifier: Any = None


def open_encoder_run(
    run_dir: str | Path,
    *,
    arch: str | None = None,
    network: str | Path | None = None,
    data: str | None = None,
    resume: bool = False,
    fine_tune: str | Path | None = None,
    backbone_init: str | None = None,
    changes: Mapping[str, Any] | None = None,
    synthfaces_num: int | None = None,
    distributed: Distributed | None = None,
    num_workers: int = 0,
) -> EncoderRun:
    """A new encoder run in `run_dir`, or (`resume=True`) the run saved there, ready to step.

    arch: `psp`, `e4e`, `restyle-psp` or `restyle-e4e` (a new run needs it, unless `fine_tune` names an encoder
    file or bundled encoder, whose weights, options and step count go on: `changes` override its options; its
    optimiser and e4e's latent discriminator start fresh; an encoder of another generator of the same shape takes
    this one's mean W; a pSp / e4e encoder with arch `restyle-` + its arch becomes its ReStyle variant, whose
    first iteration is the encoder's pass, `encoders.restyle_from`).
    network: the generator (default `synthfaces-64`; a resumed run: the one it recorded). data: real images, an
    image folder or `synthfaces:photo|toon` (default `synthfaces:photo`; a resumed run: its own). backbone_init:
    `random` (default) or `classifier` (the bundled attribute classifier's stages). changes:
    `EncoderTrainingOptions` fields (a resumed run: the scheduling ones only). Raises `ResumeError` for an input
    a resumed run cannot change and `ValueError` for bad inputs; on any process's failure every process raises.
    """
    distributed = distributed or Distributed()
    changes = dict(changes or {})
    run_dir = Path(run_dir)
    if resume:
        given = {"arch": arch, "fine_tune": fine_tune, "backbone_init": backbone_init, "synthfaces_num": synthfaces_num}
        check_resume_changes(
            [*changes, *(name for name, value in given.items() if value is not None)], RESUMABLE_CHANGES
        )
        prepare: Callable[[], _Prepared] = partial(_resumed, run_dir, network, data, distributed.device)
    else:
        if arch is None and fine_tune is None:
            raise ValueError(
                "a new run needs an arch (psp, e4e, restyle-psp or restyle-e4e) or an encoder to fine-tune"
            )
        num = synthfaces_num if synthfaces_num is not None else DEFAULT_SYNTHFACES_NUM
        spec = (network, data or DEFAULT_DATA, num)
        prepare = partial(_new, run_dir, arch, spec, fine_tune, backbone_init, changes, distributed)
    prepared = prepared_everywhere(distributed, prepare)
    common: dict[str, Any] = {"distributed": distributed, "num_workers": num_workers}
    if prepared.state is not None:  # the replicas talk from here on: every one builds the trainer
        trainer = EncoderTrainer.from_state(prepared.state, prepared.network, prepared.dataset, **common, **changes)
    else:
        assert prepared.options is not None
        trainer = EncoderTrainer(
            prepared.options, prepared.network, prepared.dataset, backbone_from=prepared.classifier, **common
        )
        if prepared.encoder is not None:
            trainer.start_from(prepared.encoder, prepared.step, source=str(fine_tune))
    notes = list(prepared.notes)
    if trainer.dataset is not None:
        notes.append(f"data: {describe_dataset(trainer.dataset, prepared.metadata['data'])}")
    if trainer.step_index >= trainer.options.total_steps:
        raise ValueError(f"{run_dir} has already trained {trainer.step_index} steps; raise --steps to go on")
    validation = validation_images(trainer, validation_reals(prepared.metadata["data"], trainer))
    return EncoderRun(trainer, run_dir, validation, prepared.metadata, tuple(notes))


def _resumed(run_dir: Path, network: str | Path | None, data: str | None, device: torch.device) -> _Prepared:
    loaded = load_state(run_dir, state_format=ENCODER_STATE_FORMAT, required=ENCODER_STATE_KEYS)
    metadata = {str(k): str(v) for k, v in loaded.state.get("metadata", {}).items()}
    if network is not None or "network" not in metadata:
        metadata["network"] = str(network or DEFAULT_NETWORK)
    if data is not None or "data" not in metadata:
        metadata["data"] = data or DEFAULT_DATA
    generator = load_network(metadata["network"], device=device)
    num = int(metadata.get("synthfaces_num", DEFAULT_SYNTHFACES_NUM))
    dataset = open_dataset(metadata["data"], generator.generator.img_resolution, synthfaces_num=num)
    resuming = f"resuming {run_dir} at step {loaded.state['step']} from {loaded.path.name}"
    return _Prepared(generator, None, dataset, metadata, (*loaded.notes, resuming), state=loaded.state)


def _new(
    run_dir: Path,
    arch: str | None,
    spec: tuple[str | Path | None, str, int],
    fine_tune: str | Path | None,
    backbone_init: str | None,
    changes: dict[str, Any],
    distributed: Distributed,
) -> _Prepared:
    network_spec, data, num = spec
    network = load_network(network_spec, device=distributed.device)
    metadata = {"network": str(network_spec or DEFAULT_NETWORK), "data": data, "synthfaces_num": str(num)}
    notes: list[str] = []
    encoder, step, classifier = None, 0, None
    if fine_tune is not None:
        if backbone_init is not None:
            raise ValueError("--backbone-init applies to a new encoder; --resume-from keeps the encoder's backbone")
        loaded = load_encoder(fine_tune, network=network_spec, device=network.generator.device)
        if not isinstance(loaded, StyleEncoder):
            raise ValueError(
                f"--resume-from {fine_tune} is an official pSp / e4e / ReStyle checkpoint; fine-tuning continues "
                "stylegan-edit encoders only"
            )
        encoder = loaded
        warm = arch is not None and arch == f"{RESTYLE_PREFIX}{encoder.arch}"
        if arch is not None and arch != encoder.arch and not warm:
            raise ValueError(f"--resume-from {fine_tune} is an encoder of arch {encoder.arch}, not {arch}")
        step = int(encoder.metadata.get("step", "0"))
        options = EncoderTrainingOptions.of_encoder(encoder.config, encoder.metadata, **changes)
        if warm:
            encoder = restyle_from(encoder)
            options = options.replace(encoder=encoder.config)
            notes.append(f"warm-starting {arch} from the {loaded.arch} encoder {fine_tune}")
        if options.total_steps <= step:
            raise ValueError(f"--resume-from {fine_tune} has trained {step} steps already; pass a larger --steps")
        metadata["backbone_init"] = encoder.metadata.get("backbone_init", "unknown")
        metadata["resumed_from"] = f"{fine_tune} (step {step})"
        notes.append(f"fine-tuning {fine_tune} from step {step}")
    else:
        assert arch is not None
        metadata["backbone_init"] = backbone_init or "random"
        options, classifier = _new_options(network, arch, backbone_init or "random", changes)
    resolution = network.generator.img_resolution
    dataset = open_dataset(data, resolution, synthfaces_num=num) if options.synthetic_fraction < 1 else None
    check_new_run_dir(run_dir, create=distributed.is_main)  # only once the options and data are known to be good
    return _Prepared(
        network, options, dataset, metadata, tuple(notes), encoder=encoder, step=step, classifier=classifier
    )


def _new_options(
    network: Network, arch: str, backbone_init: str, changes: dict[str, Any]
) -> tuple[EncoderTrainingOptions, Any]:
    """A new encoder's options, and the classifier that starts its backbone (None for a random start)."""
    from stylegan_edit.encoders.encoder import classifier_backbone_settings

    if backbone_init not in BACKBONE_INITS:
        raise ValueError(f"unknown backbone init {backbone_init!r} (use {' or '.join(BACKBONE_INITS)})")
    classifier, backbone = None, {}
    if backbone_init == "classifier":
        from stylegan_edit.classifiers.attributes import load_classifier

        try:
            classifier = load_classifier(device=network.generator.device)
        except ValueError as exc:
            raise ValueError(f"--backbone-init classifier: {exc}; use --backbone-init random") from None
        backbone = classifier_backbone_settings(classifier)
    config = EncoderConfig.for_generator(network.generator, arch=arch, **backbone)  # type: ignore[arg-type]
    return encoder_options(config, **changes), classifier


def validation_reals(data: str, trainer: EncoderTrainer) -> Tensor:
    """The real images of the validation grids: held-out SynthFaces renders (the classifier's held-out seeds) for
    a `synthfaces:` spec, else the dataset's first images (none without data)."""
    resolution = trainer.generator.img_resolution
    if data.startswith(SYNTHFACES_PREFIX):
        from stylegan_edit.classifiers.train import HELD_OUT_SEED_OFFSET
        from stylegan_edit.data import Style, SynthFaces

        style: Style = "toon" if data == f"{SYNTHFACES_PREFIX}toon" else "photo"
        faces = SynthFaces(VALIDATION_REALS, size=resolution, style=style, seed_offset=HELD_OUT_SEED_OFFSET)
        return collate_images([faces[i] for i in range(len(faces))])
    if trainer.dataset is None:
        return torch.zeros([0, 3, resolution, resolution])
    count = min(VALIDATION_REALS, len(trainer.dataset))  # type: ignore[arg-type]
    return collate_images([trainer.dataset[i] for i in range(count)])


def train_encoder(
    run_dir: str | Path,
    *,
    device: str = "cpu",
    progress: Callable[[EncoderProgress], None] | None = None,
    **arguments: Any,
) -> EncoderRun:
    """Train a pSp, e4e or ReStyle encoder to its `total_steps` in `run_dir`: what `stylegan-edit train-encoder` does.

    `arguments` are `open_encoder_run`'s (arch, network, data, resume, fine_tune, backbone_init, changes,
    synthfaces_num, num_workers); `progress` is called after every step; each note is logged. Under torchrun every
    process calls this and joins the process group.
    """
    with joined(device) as distributed:
        run = open_encoder_run(run_dir, distributed=distributed, **arguments)
        for note in run.notes:
            logger.info(note)
        for step in run.steps():
            if progress is not None:
                progress(step)
    return run
