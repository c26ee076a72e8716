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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="stylegan-edit")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def cli(verbose: bool) -> None:
    """StyleGAN2 inversion and latent editing: generate, project, encode, edit, blend."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


for _command in (
    generate,
    convert,
    dataset,
    train,
    align,
    project,
    train_encoder,
    encode,
    train_classifier,
    metrics,
    apply,
    directions,
    blend,
    interpolate,
):
    cli.add_command(_command)


def main() -> None:
    """The console entry point: Ctrl-C or SIGTERM ends any command with one line and exit status 130."""
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
