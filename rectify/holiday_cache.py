"""The provisional years' statutory days kept on disk between processes (rectify.cachedir).

Why: lunar-python works a year's lunar festivals and its 清明 solar term out astronomically, and every
process that builds the calendar needs the provisional years (five by default): each daily run before it
plans, each form worker, each CLI command that computes deadlines. That was ~0.02 s of CPU on the daily
run's critical path (an ordinary day takes ~1.3 s), the same answer every day. The file's name carries a
hash of the rules (rectify/core/provisional.py) and of lunar-python's installed files, so a new release or
a changed rule computes again. Each year read back is checked by provisional.remember; a missing, damaged
or unwritable file only means the years are computed, never an error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from rectify import cachedir
from rectify.core import provisional

log = logging.getLogger(__name__)
T = TypeVar("T")


def path() -> Path:
    """The cache file of this lunar-python installation and these rules. lunar-python is known by its
    files (where it is, and when and how big its package file was written: an upgrade rewrites it), not by
    importlib.metadata, whose import alone costs more than the computation saved."""
    h = hashlib.sha256(Path(provisional.__file__).read_bytes())
    spec = importlib.util.find_spec("lunar_python")
    if spec is not None and spec.origin:
        st = os.stat(spec.origin)
        h.update(f"|{spec.origin}|{st.st_mtime_ns}|{st.st_size}".encode())
    return cachedir.folder() / f"statutory-days-{h.hexdigest()[:16]}.json"


def _load(file: Path) -> None:
    try:
        stored = json.loads(file.read_text(encoding="utf-8"))
        for year, days in stored.items():
            provisional.remember(int(year), {k: [date.fromisoformat(d) for d in v] for k, v in days.items()})
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # damaged: computed, and the file rewritten
        log.info("statutory days cache %s unreadable, computing again: %s", file, exc)


def _save(file: Path) -> None:
    data = {str(y): {k: [d.isoformat() for d in v] for k, v in days.items()}
            for y, days in sorted(provisional.known_years().items())}
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=file.name, dir=file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
            os.replace(tmp, file)  # whole or not at all: a reader never sees half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only home: every process computes for itself, as without a cache
        log.info("statutory days not cached: %s", exc)


def kept(build: Callable[[], T]) -> T:
    """`build()`, which may compute provisional years, with the years on disk read first, and the file
    rewritten when it computed a year the file did not have."""
    try:
        file = path()
    except (OSError, RuntimeError) as exc:  # no home folder to cache in (RuntimeError), lunar-python unreadable
        log.info("statutory days not cached: %s", exc)
        return build()
    _load(file)
    before = set(provisional.known_years())
    result = build()
    if set(provisional.known_years()) - before:
        _save(file)
    return result
