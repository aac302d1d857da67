"""Where Rectify keeps what it can always make again: $RECTIFY_CACHE_DIR, else $XDG_CACHE_HOME/rectify, else
~/.cache/rectify. Its users (the notice specimen, compiled templates) treat a missing, unwritable or damaged
folder as an empty cache: the thing is made again, never an error."""

from __future__ import annotations

import os
from pathlib import Path


def folder() -> Path:
    explicit = os.environ.get("RECTIFY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rectify"
