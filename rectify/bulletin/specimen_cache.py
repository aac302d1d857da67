"""The notice specimen kept on disk between processes.

Laying out the 督办通知 specimen takes python-docx and lxml (~0.3 s with their import) in every process that
issues a notice; an ordinary day issues about a hundred, at ~1 ms each (issue 14). The specimen only changes
when the code that lays it out or python-docx changes, so its pieces are stored under a key made of those
source files, python-docx's version and the interpreter's (marshal's format follows the interpreter).

marshal, not pickle: it holds only str, bytes, tuples and dicts, and loading it runs no code. The cache
lives in $XDG_CACHE_HOME/rectify (else ~/.cache/rectify), or $RECTIFY_CACHE_DIR; a missing, unwritable or
damaged cache only means the specimen is laid out again.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import sys
import uuid
from importlib import metadata
from pathlib import Path

from rectify import cachedir

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent


def _key(sources: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in sources:
        h.update((HERE / name).read_bytes())
    try:
        docx = metadata.version("python-docx")
    except metadata.PackageNotFoundError:  # pragma: no cover - python-docx is a dependency
        docx = "?"
    h.update(f"{docx}|{sys.version}|{marshal.version}".encode())
    return h.hexdigest()[:24]


def _path(sources: tuple[str, ...]) -> Path:
    return cachedir.folder() / f"notice-specimen-{_key(sources)}.marshal"


def load(sources: tuple[str, ...]) -> tuple | None:
    """The stored pieces, or None (never stored, or unreadable: then they are made again)."""
    try:
        pieces = marshal.loads(_path(sources).read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return pieces if isinstance(pieces, tuple) and len(pieces) == 6 else None


def store(sources: tuple[str, ...], pieces: tuple) -> None:
    """Write the pieces atomically (another process may be reading or writing the same key)."""
    try:
        path = _path(sources)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_bytes(marshal.dumps(pieces))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:  # a read-only home: every process lays the specimen out itself, as before
        log.info("notice specimen not cached: %s", exc)
