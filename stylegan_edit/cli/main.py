"""The `stylegan-edit` command line: one click group of thin commands over the library."""

from __future__ import annotations

import logging
import signal
import sys

import click

from stylegan_edit import __version__
from stylegan_edit.cli.align import align
from stylegan_edit.cli.blend import blend, interpolate
from stylegan_edit.cli.classifier import train_classifier
from stylegan_edit.cli.convert import convert
from stylegan_edit.cli.dataset import dataset
from stylegan_edit.cli.directions import directions
from stylegan_edit.cli.edit import apply
from stylegan_edit.cli.encode import encode
from stylegan_edit.cli.generate import generate
from stylegan_edit.cli.metrics import metrics
from stylegan_edit.cli.project import project
from stylegan_edit.cli.train import train
from stylegan_edit.cli.train_encoder import train_encoder
from stylegan_edit.cli.train_hyperstyle import train_hyperstyle
from stylegan_edit.cli.ui import ui


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="stylegan-edit")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def cli(verbose: bool) -> None:
    """StyleGAN2 inversion and latent editing: generate, project, encode, edit, blend.

    \b
    Terms used in the commands' help:
      Z           the generator's random input (512 numbers per image, drawn from a seed)
      W           the mapping network's output: one style code per image; edits move it
      W+          one W code per synthesis layer: photos fit better, edits drift more
      truncation  psi pulls each W towards the average W (1: unchanged, 0: the average face)
      L-BFGS      a quasi-Newton optimiser: it fits in fewer steps than Adam
      LPIPS       a learnt perceptual distance between two images (0: alike)
      PSNR        peak signal-to-noise ratio of a reconstruction in dB (higher: closer)

    Every command checks its inputs before it loads a model, creates its output folder before the work and
    removes it again when it fails or is interrupted (Ctrl-C: exit status 130).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    # The option types already warned about every value the library would warn about again.
    logging.getLogger("stylegan_edit.workflow.checks").setLevel(logging.ERROR)


for _command in (
    generate,
    convert,
    dataset,
    train,
    align,
    project,
    train_encoder,
    train_hyperstyle,
    encode,
    train_classifier,
    metrics,
    apply,
    directions,
    blend,
    interpolate,
    ui,
):
    cli.add_command(_command)


def main() -> None:
    """The console entry point: Ctrl-C or SIGTERM ends any command with one line and exit status 130."""
    # Also when started from a script in the background, where the shell leaves SIGINT ignored and Python then
    # installs no handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = cli.main(prog_name="stylegan-edit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    sys.exit(status if isinstance(status, int) else 0)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
