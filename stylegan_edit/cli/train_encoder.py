"""`stylegan-edit train-encoder`: train a pSp or e4e encoder for a generator, with resumable state.

Data-parallel on several processes with torchrun, e.g.
`torchrun --nproc_per_node 2 -m stylegan_edit.cli.train_encoder --arch e4e --run-dir runs/e4e`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from stylegan_edit.cli.common import friendly_errors
from stylegan_edit.cli.train import DEFAULT_SYNTHFACES_NUM

# Options that may change on --resume: they schedule the run (or say where things are) but do not alter it.
RESUME_CHANGEABLE = {"resume_dir", "data_spec", "network_spec", "steps", "val_every", "snapshot_every"}
RESUME_CHANGEABLE |= {"state_every", "workers", "device", "progress"}
VALIDATION_REALS = 8

# In the progress bar: the totals, then e4e's delta term and latent GAN (adv: the encoder's, disc: the discriminator's).
SHOWN_LOSSES = ("total", "mse", "perceptual", "delta", "adv", "disc")


@click.command("train-encoder")
@click.option("--arch", type=click.Choice(["psp", "e4e"]), default=None, help="Encoder kind (needed for a new run).")
@click.option(
    "--network", "network_spec", default=None, help="Generator checkpoint or bundled name.  [default: synthfaces-64]"
)
@click.option(
    "--data",
    "data_spec",
    default="synthfaces:photo",
    show_default=True,
    help="Real training images: a folder (searched recursively), synthfaces:photo or synthfaces:toon.",
)
@click.option(
    "--synthetic-fraction",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Share of each batch rendered by the generator from known codes (these also get a latent loss).",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="New folder for validation grids, encoder snapshots and the resumable state.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Continue the run in this folder (only --steps, intervals, --data, --network, --device may change).",
)
@click.option(
    "--resume-from",
    default=None,
    help="Fine-tune an encoder (a file such as a run's snapshot, or a bundled name: psp, e4e) in a new --run-dir: "
    "its weights, training options and step count go on, options given here override its options; the "
    "optimiser and e4e's latent discriminator start fresh. An encoder of another --network of the same shape "
    "is retargeted: it takes this network's mean W.",
)
@click.option("--steps", type=click.IntRange(min=1), default=20000, show_default=True, help="Train until this step.")
@click.option(
    "--batch", type=click.IntRange(min=1), default=8, show_default=True, help="Images per step, all processes."
)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True, help="Adam lr.")
@click.option(
    "--perceptual",
    default="auto",
    show_default=True,
    help="Perceptual loss: auto (LPIPS-VGG if its weights are cached, else the bundled classifier's or the "
    "discriminator's features), lpips, lpips-alex, lpips-squeeze, disc, or none.",
)
@click.option(
    "--backbone-init",
    type=click.Choice(["random", "classifier"]),
    default="random",
    show_default=True,
    help="random: a fresh IR-SE backbone; classifier: the bundled attribute classifier's stages and weights.",
)
@click.option(
    "--progressive-start", type=click.IntRange(min=0), default=2000, show_default=True, help="e4e: first offset step."
)
@click.option(
    "--progressive-every",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="e4e: steps between enabling offsets.",
)
@click.option(
    "--val-every", type=click.IntRange(min=0), default=500, show_default=True, help="Validation grid interval."
)
@click.option(
    "--snapshot-every", type=click.IntRange(min=0), default=2000, show_default=True, help="Snapshot interval."
)
@click.option(
    "--state-every", type=click.IntRange(min=0), default=500, show_default=True, help="Resumable state interval."
)
@click.option(
    "--w-norm-weight",
    type=click.FloatRange(min=0),
    default=None,
    help="pSp: weight of the codes' distance from the mean W.  [default: 0.005 for pSp, 0 for e4e]",
)
@click.option(
    "--delta-weight",
    type=click.FloatRange(min=0),
    default=None,
    help="e4e: weight of the per-layer offset norms (keeps codes near W).  [default: 2e-4]",
)
@click.option(
    "--adv-weight",
    type=click.FloatRange(min=0),
    default=None,
    help="e4e: weight of the latent adversarial loss.  [default: 0.1]",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of weights, data, codes.")
@click.option(
    "--synthfaces-num",
    type=click.IntRange(min=1),
    default=DEFAULT_SYNTHFACES_NUM,
    show_default=True,
    help="Faces in synthfaces: data.",
)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Data loading processes.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.pass_context
@friendly_errors
def train_encoder(ctx: click.Context, **kwargs: Any) -> None:
    """Train a pSp or e4e encoder against a generator, on real images and the generator's own renders."""
    from stylegan_edit.cli.train import refuse_resume_changes, run_distributed

    if kwargs["resume_dir"] is not None:
        refuse_resume_changes(ctx, kwargs, RESUME_CHANGEABLE)
    elif kwargs["run_dir"] is None or (kwargs["arch"] is None and kwargs["resume_from"] is None):
        raise click.UsageError("a new run needs --arch and --run-dir (or continue one with --resume RUN_DIR)")
    kwargs["given"] = {name for name in kwargs if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    run_distributed(kwargs["device"], partial(_run, **kwargs))


def _prepare(distributed: Any, kw: dict[str, Any]) -> tuple[Path, dict[str, str], Callable[[], Any]]:
    """Read the state or build the options, open the network and data: everything before the replicas talk."""
    from stylegan_edit.assets import DEFAULT_NETWORK, resolve_network
    from stylegan_edit.cli.train import check_new_run_dir, echo_main
    from stylegan_edit.encoders import EncoderTrainer
    from stylegan_edit.encoders.trainer import ENCODER_STATE_FORMAT, ENCODER_STATE_KEYS
    from stylegan_edit.formats.native import load_network
    from stylegan_edit.training import load_state

    scheduling = {name: kw[name] for name in ("val_every", "snapshot_every", "state_every")}
    scheduling["total_steps"] = kw["steps"]
    common = {"distributed": distributed, "num_workers": kw["workers"]}
    if kw["resume_dir"] is not None:
        run_dir: Path = kw["resume_dir"]
        loaded = load_state(run_dir, state_format=ENCODER_STATE_FORMAT, required=ENCODER_STATE_KEYS)
        for note in loaded.notes:
            echo_main(distributed, note)
        metadata = {str(k): str(v) for k, v in loaded.state.get("metadata", {}).items()}
        if "network_spec" in kw["given"] or "network" not in metadata:
            metadata["network"] = kw["network_spec"] or DEFAULT_NETWORK
        if "data_spec" in kw["given"] or "data" not in metadata:
            metadata["data"] = kw["data_spec"]
        network = load_network(resolve_network(metadata["network"]), device=distributed.device)
        dataset = _dataset(metadata["data"], network, int(metadata.get("synthfaces_num", DEFAULT_SYNTHFACES_NUM)))
        changes = {k: v for k, v in scheduling.items() if (k if k != "total_steps" else "steps") in kw["given"]}
        echo_main(distributed, f"resuming {run_dir} at step {loaded.state['step']} from {loaded.path.name}")
        return (
            run_dir,
            metadata,
            partial(EncoderTrainer.from_state, loaded.state, network, dataset, **common, **changes),
        )
    run_dir = kw["run_dir"]
    network = load_network(resolve_network(kw["network_spec"]), device=distributed.device)
    metadata = {
        "network": kw["network_spec"] or DEFAULT_NETWORK,
        "data": kw["data_spec"],
        "synthfaces_num": str(kw["synthfaces_num"]),
        "backbone_init": kw["backbone_init"],
    }
    encoder = None
    if kw["resume_from"] is not None:
        options, encoder, step = _fine_tuning(network, kw, scheduling)
        metadata["backbone_init"] = encoder.metadata.get("backbone_init", "unknown")
        metadata["resumed_from"] = f"{kw['resume_from']} (step {step})"
        echo_main(distributed, f"fine-tuning {kw['resume_from']} from step {step}")
    else:
        options, classifier = _options(network, kw, scheduling)
    dataset = _dataset(kw["data_spec"], network, kw["synthfaces_num"]) if options.synthetic_fraction < 1 else None
    check_new_run_dir(run_dir, distributed.is_main)  # only once the options and data are known to be good
    if encoder is None:
        make: Callable[[], Any] = partial(EncoderTrainer, options, network, dataset, backbone_from=classifier, **common)
    else:
        make = partial(_started_from, encoder, step, kw["resume_from"], options, network, dataset, **common)
    return run_dir, metadata, make


def _run(distributed: Any, **kw: Any) -> None:
    from tqdm import tqdm

    from stylegan_edit.cli.train import echo_main, prepare_everywhere
    from stylegan_edit.encoders import run_encoder_training
    from stylegan_edit.encoders.loop import validation_images
    from stylegan_edit.training.data import describe_dataset

    run_dir, metadata, make_trainer = prepare_everywhere(distributed, partial(_prepare, distributed, kw))
    trainer = make_trainer()
    if trainer.dataset is not None:
        echo_main(distributed, f"data: {describe_dataset(trainer.dataset, metadata['data'])}")
    if trainer.step_index >= trainer.options.total_steps:
        raise ValueError(f"{run_dir} has already trained {trainer.step_index} steps; raise --steps to go on")
    validation = validation_images(trainer, _validation_reals(metadata["data"], trainer))
    bar = tqdm(
        total=trainer.options.total_steps,
        initial=trainer.step_index,
        unit="step",
        disable=not (kw["progress"] and distributed.is_main),
        dynamic_ncols=True,
    )
    with bar:
        for progress in run_encoder_training(trainer, run_dir, validation, metadata=metadata):
            losses = progress.stats.losses
            bar.update(1)
            shown = " ".join(f"{name} {losses[name]:.4f}" for name in SHOWN_LOSSES if name in losses)
            bar.set_postfix_str(f"{shown} offsets {progress.stats.num_offsets}")
            if progress.written:
                psnr = f" (validation PSNR {progress.val_psnr:.2f} dB)" if progress.val_psnr is not None else ""
                names = ", ".join(path.name for path in progress.written)
                echo_main(distributed, f"step {progress.stats.step + 1}: wrote {names}{psnr}")
    echo_main(distributed, f"finished {trainer.step_index} steps in {run_dir}")


def _options(network: Any, kw: dict[str, Any], scheduling: dict[str, int]) -> tuple[Any, Any]:
    """The training options for a new run, and the classifier that starts the backbone (or None)."""
    from stylegan_edit.encoders import EncoderConfig, EncoderTrainingOptions
    from stylegan_edit.encoders.encoder import classifier_backbone_settings

    classifier = None
    backbone: dict[str, Any] = {}
    if kw["backbone_init"] == "classifier":
        from stylegan_edit.classifiers.attributes import load_classifier

        try:
            classifier = load_classifier(device=network.generator.device)
        except ValueError as exc:
            raise ValueError(f"--backbone-init classifier: {exc}; use --backbone-init random") from None
        backbone = classifier_backbone_settings(classifier)
    config = EncoderConfig.for_generator(network.generator, arch=kw["arch"], **backbone)
    options = EncoderTrainingOptions.for_encoder(
        config,
        batch=kw["batch"],
        lr=kw["lr"],
        synthetic_fraction=kw["synthetic_fraction"],
        perceptual=kw["perceptual"],
        progressive_start=kw["progressive_start"],
        progressive_every=kw["progressive_every"],
        seed=kw["seed"],
        **{name: kw[name] for name in ("w_norm_weight", "delta_weight", "adv_weight") if kw[name] is not None},
        **scheduling,
    )
    return options, classifier


# Options of a new run that --resume-from takes from the encoder's file unless given on the command line.
TRAINING_OPTIONS = ["batch", "lr", "synthetic_fraction", "perceptual", "progressive_start", "progressive_every"]
TRAINING_OPTIONS += ["w_norm_weight", "delta_weight", "adv_weight", "seed"]


def _fine_tuning(network: Any, kw: dict[str, Any], scheduling: dict[str, int]) -> tuple[Any, Any, int]:
    """--resume-from: the encoder, its training options (with the given ones and the scheduling applied) and the
    step it was saved at."""
    from stylegan_edit.encoders import EncoderTrainingOptions, load_encoder

    spec = kw["resume_from"]
    encoder = load_encoder(spec, network=kw["network_spec"], device=network.generator.device)
    if kw["arch"] is not None and kw["arch"] != encoder.arch:
        raise ValueError(f"--resume-from {spec} is an encoder of arch {encoder.arch}, not {kw['arch']}")
    if "backbone_init" in kw["given"]:
        raise ValueError("--backbone-init applies to a new encoder; --resume-from keeps the encoder's backbone")
    step = int(encoder.metadata.get("step", "0"))
    if kw["steps"] <= step:
        raise ValueError(f"--resume-from {spec} has trained {step} steps already; pass a larger --steps")
    given = {name: kw[name] for name in TRAINING_OPTIONS if name in kw["given"]}
    options = EncoderTrainingOptions.of_encoder(encoder.config, encoder.metadata, **given, **scheduling)
    return options, encoder, step


def _started_from(encoder: Any, step: int, source: str, *args: Any, **kwargs: Any) -> Any:
    from stylegan_edit.encoders import EncoderTrainer

    trainer = EncoderTrainer(*args, **kwargs)
    trainer.start_from(encoder, step, source=source)
    return trainer


def _dataset(spec: str, network: Any, synthfaces_num: int) -> Any:
    from stylegan_edit.training.data import open_dataset

    return open_dataset(spec, network.generator.img_resolution, synthfaces_num=synthfaces_num)


def _validation_reals(spec: str, trainer: Any) -> Any:
    """Held-out SynthFaces renders (the classifier's held-out seeds) for a synthfaces: spec, else the dataset's
    first images (none without data)."""
    import torch

    from stylegan_edit.training.data import SYNTHFACES_PREFIX, collate_images

    resolution = trainer.generator.img_resolution
    if spec.startswith(SYNTHFACES_PREFIX):
        from stylegan_edit.classifiers.train import HELD_OUT_SEED_OFFSET
        from stylegan_edit.data import Style, SynthFaces

        style: Style = "toon" if spec == f"{SYNTHFACES_PREFIX}toon" else "photo"
        faces = SynthFaces(VALIDATION_REALS, size=resolution, style=style, seed_offset=HELD_OUT_SEED_OFFSET)
        return collate_images([faces[i] for i in range(len(faces))])
    if trainer.dataset is None:
        return torch.zeros([0, 3, resolution, resolution])
    count = min(VALIDATION_REALS, len(trainer.dataset))
    return collate_images([trainer.dataset[i] for i in range(count)])


if __name__ == "__main__":
    train_encoder()
