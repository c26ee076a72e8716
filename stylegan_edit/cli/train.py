"""`stylegan-edit train`: train or fine-tune a StyleGAN2 (config e) on an image folder or SynthFaces.

Data-parallel on several processes with torchrun, e.g.
`torchrun --nproc_per_node 2 -m stylegan_edit.cli.train --data faces/ --run-dir runs/a`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from stylegan_edit.cli.common import ensure_outdir, friendly_errors, pick_device

DEFAULT_SYNTHFACES_NUM = 50_000  # training.data.DEFAULT_SYNTHFACES_NUM
CONFIGS = ("synthfaces-64", "tiny")  # stylegan_edit.training.options.PRESETS, without importing torch
# Options that may change on --resume: they schedule the run or say where things are, and the batch (a run moving to
# a GPU), lr, gamma, the mbstd group and the EMA half-life (a run turned unstable or collapsed): see
# generators.training.trainer.RESUMABLE_CHANGES.
RESUME_CHANGEABLE = {"resume_dir", "data_spec", "kimg", "grid_kimg", "snapshot_kimg", "state_kimg", "workers", "batch"}
RESUME_CHANGEABLE |= {"lr", "gamma", "mbstd_group", "ema_kimg"}
RESUME_CHANGEABLE |= {"device", "progress"}
T = TypeVar("T")


@click.command()
@click.option(
    "--data",
    "data_spec",
    default=None,
    help="Training images: a folder (searched recursively), synthfaces:photo or synthfaces:toon.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="New folder for sample grids, network snapshots and the resumable state.",
)
@click.option(
    "--config",
    "config_name",
    type=click.Choice(CONFIGS),
    default="synthfaces-64",
    show_default=True,
    help="Network and hyperparameter preset (tiny is for tests).",
)
@click.option(
    "--kimg",
    type=click.FloatRange(min=0),
    default=None,
    help="Train until this many thousand images.  [default: the config's]",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=None,
    help="Images per step, over all processes.  [default: the config's]",
)
@click.option(
    "--gamma", type=click.FloatRange(min=0), default=None, help="R1 regularisation weight.  [default: the config's]"
)
@click.option(
    "--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Adam learning rate.  [default: 0.002]"
)
@click.option(
    "--mbstd-group",
    type=click.IntRange(min=1),
    default=None,
    help="Images the discriminator's minibatch-stddev layer compares; larger groups see more of the attribute "
    "mix (it changes no weight, so a resumed run may change it).  [default: the config's, 4]",
)
@click.option(
    "--ema-kimg",
    type=click.FloatRange(min=0),
    default=None,
    help="Half-life of the generator EMA in thousands of images (stylegan2-ada: batch * 10 / 32); longer averages "
    "over a generator that oscillates.  [default: the config's]",
)
@click.option("--mirror/--no-mirror", default=False, show_default=True, help="Random horizontal flips of the reals.")
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of weights, data order and noise."
)
@click.option(
    "--grid-kimg",
    type=click.FloatRange(min=0),
    default=None,
    help="Sample grid interval (0: at the end only).  [default: the config's]",
)
@click.option(
    "--snapshot-kimg",
    type=click.FloatRange(min=0),
    default=None,
    help="Network snapshot interval.  [default: the config's]",
)
@click.option(
    "--state-kimg",
    type=click.FloatRange(min=0),
    default=None,
    help="Resumable state interval.  [default: the config's]",
)
@click.option(
    "--resume-from", default=None, help="Fine-tune from a checkpoint (any supported format, or a bundled name)."
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Continue the run in this folder from its saved state (only --kimg, intervals, --data, --batch, --lr, "
    "--gamma, --mbstd-group, --ema-kimg, --device may change).",
)
@click.option(
    "--synthfaces-num",
    type=click.IntRange(min=1),
    default=DEFAULT_SYNTHFACES_NUM,
    show_default=True,
    help="Faces in a synthfaces: dataset.",
)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Data loading processes.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.pass_context
@friendly_errors
def train(ctx: click.Context, **kwargs: Any) -> None:
    """Train a StyleGAN2 (config e: R1, path length, style mixing, EMA) with resumable state."""
    resume_dir: Path | None = kwargs["resume_dir"]
    if resume_dir is not None:
        refuse_resume_changes(ctx, kwargs, RESUME_CHANGEABLE)
    elif kwargs["data_spec"] is None or kwargs["run_dir"] is None:
        raise click.UsageError("a new run needs --data and --run-dir (or continue one with --resume RUN_DIR)")
    run_distributed(kwargs["device"], partial(_run, **kwargs))


def run_distributed(device: str, run: Callable[[Any], None]) -> None:
    """Join the torchrun process group (or run alone), call `run(distributed)`, and always leave the group."""
    from stylegan_edit.training import setup_distributed, shutdown_distributed

    distributed = setup_distributed(pick_device(device))
    try:
        run(distributed)
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; continue from the last saved state with --resume RUN_DIR") from None
    finally:
        shutdown_distributed()


def prepare_everywhere(distributed: Any, prepare: Callable[[], T]) -> T:
    """`prepare()`'s result, once every process has prepared: a failure on any process stops them all."""
    try:
        prepared = prepare()
    except (ValueError, OSError, click.ClickException):
        # A replica that fails alone would leave the others waiting for it forever in their first collective.
        distributed.all_succeeded(False)
        raise
    if not distributed.all_succeeded(True):
        raise click.ClickException("another training process failed to start; see its message")
    return prepared


def refuse_resume_changes(ctx: click.Context, kwargs: dict[str, Any], changeable: set[str]) -> None:
    """A usage error naming the options given on the command line that a resumed run cannot change."""
    given = [name for name in kwargs if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
    fixed = sorted(set(given) - changeable)
    if fixed:
        flags = ", ".join("--" + name.replace("_", "-") for name in fixed)
        raise click.UsageError(f"{flags} cannot change when resuming: the run keeps the options it started with")


def echo_main(distributed: Any, message: str) -> None:
    """Print one line from the main process only (above any progress bar)."""
    if distributed.is_main:
        from tqdm import tqdm

        tqdm.write(message)


def _prepare(distributed: Any, kw: dict[str, Any]) -> tuple[Path, Any, dict[str, str], Callable[[], Any]]:
    """Read the state or build the options, open the data: everything before the replicas first talk."""
    from stylegan_edit.training import Trainer, TrainingOptions, load_state, preset
    from stylegan_edit.training.data import open_dataset

    given = {"total_kimg": kw["kimg"], **{k: kw[k] for k in ("grid_kimg", "snapshot_kimg", "state_kimg", "batch")}}
    given |= {k: kw[k] for k in ("lr", "gamma", "ema_kimg")} | {"mbstd_group_size": kw["mbstd_group"]}
    changes = {name: value for name, value in given.items() if value is not None}
    common = {"distributed": distributed, "num_workers": kw["workers"]}
    if kw["resume_dir"] is not None:
        run_dir: Path = kw["resume_dir"]
        loaded = load_state(run_dir)
        for note in loaded.notes:
            echo_main(distributed, note)
        metadata = {str(k): str(v) for k, v in loaded.state.get("metadata", {}).items()}
        metadata["data"] = kw["data_spec"] or metadata.get("data", "")
        if not metadata["data"]:
            raise ValueError(f"{loaded.path} does not record its data; pass --data")
        resolution = TrainingOptions.from_json(loaded.state["options"]).resolution
        num = int(metadata.get("synthfaces_num", DEFAULT_SYNTHFACES_NUM))
        dataset = open_dataset(metadata["data"], resolution, synthfaces_num=num)
        echo_main(
            distributed, f"resuming {run_dir} at {loaded.state['cur_nimg'] / 1000:.3f} kimg from {loaded.path.name}"
        )
        return run_dir, dataset, metadata, partial(Trainer.from_state, loaded.state, dataset, **common, **changes)
    run_dir = kw["run_dir"]
    options = preset(kw["config_name"]).replace(seed=kw["seed"], xflip=kw["mirror"], **changes)
    metadata = {"data": kw["data_spec"], "synthfaces_num": str(kw["synthfaces_num"])}
    network = None
    if kw["resume_from"] is not None:
        options, network = _fine_tuning(options, kw["resume_from"], distributed)
        metadata["resume_from"] = str(kw["resume_from"])
    dataset = open_dataset(kw["data_spec"], options.resolution, synthfaces_num=kw["synthfaces_num"])
    check_new_run_dir(run_dir, distributed.is_main)  # only once the options and data are known to be good
    return run_dir, dataset, metadata, partial(Trainer, options, dataset, network=network, **common)


def _run(distributed: Any, **kw: Any) -> None:
    from tqdm import tqdm

    from stylegan_edit.training import run_training
    from stylegan_edit.training.data import describe_dataset

    run_dir, dataset, metadata, make_trainer = prepare_everywhere(distributed, partial(_prepare, distributed, kw))
    trainer = make_trainer()
    echo_main(distributed, f"data: {describe_dataset(dataset, metadata['data'])}")
    total_nimg = round(trainer.options.total_kimg * 1000)
    if trainer.cur_nimg >= total_nimg:
        raise ValueError(f"{run_dir} has already trained {trainer.cur_nimg / 1000:.3f} kimg; raise --kimg to go on")
    bar = tqdm(
        total=total_nimg,
        initial=trainer.cur_nimg,
        unit="img",
        disable=not (kw["progress"] and distributed.is_main),
        dynamic_ncols=True,
    )
    last_r1 = last_pl = float("nan")
    with bar:
        for progress in run_training(trainer, run_dir, metadata=metadata):
            stats = progress.stats
            last_r1 = stats.r1_penalty if stats.r1_penalty is not None else last_r1
            last_pl = stats.pl_penalty if stats.pl_penalty is not None else last_pl
            bar.update(stats.batch)
            bar.set_postfix_str(
                f"kimg {stats.kimg:.2f} G {stats.loss_g:.3f} D {stats.loss_d:.3f} R1 {last_r1:.4f} "
                f"PL {last_pl:.4f} {stats.images_per_second:.1f} img/s"
            )
            if progress.written:
                names = ", ".join(path.name for path in progress.written)
                echo_main(distributed, f"kimg {stats.kimg:.3f}: wrote {names}")
    echo_main(distributed, f"finished {trainer.cur_nimg / 1000:.3f} kimg in {run_dir}")


def check_new_run_dir(run_dir: Path, is_main: bool) -> None:
    """Refuse a folder that already holds a run; the main process creates the folder and checks it is writable."""
    from stylegan_edit.training.state import PREVIOUS_STATE_FILE, STATE_FILE

    if (run_dir / STATE_FILE).exists() or (run_dir / PREVIOUS_STATE_FILE).exists():
        raise ValueError(f"{run_dir} already holds a training run; continue it with --resume {run_dir}")
    if is_main:
        ensure_outdir(run_dir)
        probe = run_dir / ".write-test"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ValueError(f"cannot write to run folder {run_dir}: {exc.strerror}") from None


def _fine_tuning(options: Any, spec: str, distributed: Any) -> tuple[Any, Any]:
    """Options whose networks are the checkpoint's, and the loaded network (D fresh when the file has none)."""
    from stylegan_edit.assets import resolve_network
    from stylegan_edit.formats.native import load_network
    from stylegan_edit.generators import DiscriminatorConfig

    network = load_network(resolve_network(spec))
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
        echo_main(distributed, f"warning: {spec} has no discriminator; training a fresh one from scratch")
    return options.replace(generator=g_config, discriminator=d_config), network


if __name__ == "__main__":
    train()
