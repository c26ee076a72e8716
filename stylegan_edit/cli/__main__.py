"""`python -m stylegan_edit.cli`: the `stylegan-edit` command."""

from stylegan_edit.cli.main import main

main()
