"""Compiled templates kept on disk between processes (Jinja2's bytecode cache, made fault-tolerant).

Compiling every template costs ~0.7 s of CPU and each process compiles what it uses: the daily run its
letters, notices and cards, each form worker every page at start, each CLI command its own (issue 14). The
compiled code only changes with a template's source (Jinja2 checks a checksum of it per file), with the
environment's settings (rectify/templating.py: part of the folder's key, with Jinja2's and Python's versions)
and with the interpreter.

The cache has the same trust as `__pycache__`: whoever can write into the cache folder can run code as the
service, so it lives in the service user's own cache folder (rectify.cachedir). A file that cannot be read
or written, or is damaged, only means that template is compiled again.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path
from types import CodeType

import jinja2
from jinja2.bccache import Bucket, FileSystemBytecodeCache

from rectify import cachedir

log = logging.getLogger(__name__)
SETTINGS = Path(__file__).resolve().parent / "templating.py"  # where the environment's compile options live


class TemplateCache(FileSystemBytecodeCache):
    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception as exc:  # a damaged file: a truncated checksum raises pickle's own errors
            log.info("compiled template %s unreadable, compiling again: %s", bucket.key, exc)
            bucket.reset()
        if bucket.code is not None and not isinstance(bucket.code, CodeType):  # damaged after the checksum
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError as exc:  # a read-only home: every process compiles for itself, as without a cache
            log.info("compiled template not cached: %s", exc)


def template_cache() -> TemplateCache:
    h = hashlib.sha256(SETTINGS.read_bytes())
    h.update(f"{jinja2.__version__}|{sys.version}".encode())
    return TemplateCache(str(cachedir.folder() / f"templates-{h.hexdigest()[:16]}"))
