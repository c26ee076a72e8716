"""Where stylegan-edit keeps per-user files: cached statistics and the hand-off between commands."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "STYLEGAN_EDIT_CACHE"


def cache_dir() -> Path:
    """`$STYLEGAN_EDIT_CACHE`, else `$XDG_CACHE_HOME/stylegan-edit`, else `~/.cache/stylegan-edit` (not created)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "stylegan-edit"
