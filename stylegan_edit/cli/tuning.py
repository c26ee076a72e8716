"""The pivotal-tuning options of `project` and `encode` (`--tune`, PTI, arXiv:2106.05744), its progress bar and
what the commands print about it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stylegan_edit.cli.values import FiniteFloat

if TYPE_CHECKING:
    from tqdm import tqdm

    from stylegan_edit.invert.pivotal import TuningStep
    from stylegan_edit.workflow.outputs import SavedInversion
    from stylegan_edit.workflow.results import Inversion

F = TypeVar("F", bound=Callable[..., Any])

PTI_STEPS = 350  # workflow.tuning.PTI_STEPS (kept lazy here)
PTI_LR = 3e-4  # workflow.tuning.PTI_LR
TUNE_NEEDED = ("tune_steps", "tune_lr", "tune_full")


def tune_options(func: F) -> F:
    """`--tune/--no-tune`, `--tune-steps`, `--tune-lr`, `--tune-full/--tune-delta`."""
    options = [
        click.option(
            "--tune/--no-tune",
            default=False,
            show_default=True,
            help="Then tune the generator's synthesis weights around the codes (Pivotal Tuning Inversion: LPIPS or "
            "the chosen perceptual distance plus L2, with PTI's locality regulariser; mapping frozen, all images "
            "jointly) and write tuned.safetensors beside the latents; `apply` renders these latents with it.",
        ),
        click.option(
            "--tune-steps",
            type=click.IntRange(min=1),
            default=PTI_STEPS,
            show_default=True,
            help="With --tune: at most this many Adam steps on the generator's weights (with an LPIPS loss, fewer "
            "once LPIPS to every target is under PTI's 0.06).",
        ),
        click.option(
            "--tune-lr",
            type=FiniteFloat(min=0, min_open=True),
            default=PTI_LR,
            show_default=True,
            help="With --tune: Adam's learning rate on the generator's weights (PTI's 3e-4).",
        ),
        click.option(
            "--tune-full/--tune-delta",
            default=False,
            show_default=True,
            help="With --tune: write the whole tuned generator (a native network file, float32) instead of its "
            "float16 difference from the base generator, which names the base and needs it to load.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def check_tune_options(tune: bool) -> None:
    """Refuse --tune-steps, --tune-lr and --tune-full given without --tune (one line, before any work)."""
    context = click.get_current_context()
    default = click.core.ParameterSource.DEFAULT
    given = [name for name in TUNE_NEEDED if context.get_parameter_source(name) is not default]
    if given and not tune:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise click.UsageError(f"{flags} given without --tune, which they set up")


class TuningBar:
    """A tqdm bar over the tuning steps, with the loss; `on_start` runs before the first step (to close the
    projection's bar)."""

    def __init__(self, *, enabled: bool, on_start: Callable[[], None] | None = None) -> None:
        self.enabled = enabled
        self.on_start = on_start
        self.bar: tqdm | None = None

    def report(self, step: TuningStep) -> None:
        from tqdm import tqdm

        if self.bar is None:
            if self.on_start is not None:
                self.on_start()
            self.bar = tqdm(total=step.num_steps, desc="pivotal tuning", unit="step", disable=not self.enabled)
        if not step.converged:
            self.bar.update(1)
        self.bar.set_postfix(loss=f"{float(step.losses['total'].mean()):.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def tuning_lines(result: Inversion, saved: SavedInversion) -> list[str]:
    """What was tuned, how far each image's PSNR moved, and the file written."""
    tuning = result.tuning
    if tuning is None or saved.tuned is None:
        return []
    layers = "all layers" if tuning.first_layer == 0 else f"W+ layers {tuning.first_layer} and up"
    how = (
        f"stopped after {tuning.num_steps} of {tuning.max_steps} steps (LPIPS under PTI's 0.06)"
        if tuning.converged
        else f"{tuning.num_steps} steps"
    )
    jointly = ", all images jointly" if len(result.latents) > 1 else ""
    lines = [
        f"pivotal tuning: {tuning.num_weights:,} synthesis weights ({layers}; mapping frozen), {how} at lr "
        f"{tuning.lr:g}{jointly}, in {tuning.seconds:.1f} s"
    ]
    before, after = tuning.pivot_metrics["psnr"], result.metrics["psnr"]
    for name, pivot, tuned in zip(saved.names, before.tolist(), after.tolist(), strict=True):
        lines.append(f"{name}: PSNR {pivot:.2f} dB at the pivot, {tuned:.2f} dB tuned")
    size = saved.tuned.stat().st_size / 1e6
    lines.append(f"tuned generator: {saved.tuned} ({saved.tuned_kind}, {size:.2f} MB)")
    return lines
