"""The `stylegan-edit` command line: one click group of thin commands over the library."""

from __future__ import annotations

import logging

import click

from stylegan_edit import __version__
from stylegan_edit.allocator import tune_allocator_if_asked
from stylegan_edit.commands.align import align
from stylegan_edit.commands.blend import blend, interpolate
from stylegan_edit.commands.classifier import train_classifier
from stylegan_edit.commands.convert import convert
from stylegan_edit.commands.dataset import dataset
from stylegan_edit.commands.directions import directions
from stylegan_edit.commands.edit import apply
from stylegan_edit.commands.encode import encode
from stylegan_edit.commands.generate import generate
from stylegan_edit.commands.metrics import metrics
from stylegan_edit.commands.project import project
from stylegan_edit.commands.train import train
from stylegan_edit.commands.train_encoder import train_encoder


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
    tune_allocator_if_asked()  # STYLEGAN_EDIT_TUNE_MALLOC=1: reuse large CPU blocks (see allocator.py)
    cli()
