"""The `stylegan-edit` command line: one click group of thin commands over the workflow API."""

from stylegan_edit.cli.main import cli, main

__all__ = ["cli", "main"]
