"""Give freed memory back to the operating system between the daily run's phases, and keep Python's cycle
collector off the objects a phase builds.

A first day at a million findings builds its plan, then its notices, then its letters, then sends: each phase
frees most of what the one before it allocated, but glibc keeps freed heap pages mapped, so the process's
resident size only ever grows and its peak is the sum of the phases' leftovers. `malloc_trim(0)` returns the
free pages (also those in the middle of the heap, since glibc 2.8). Elsewhere (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache


@cache
def _libc():  # -> ctypes.CDLL | None
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc
        return None


def give_back() -> bool:
    """Return freed heap memory to the system; False where that is not possible."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


_pausing = threading.Lock()
_pauses = 0  # collector_paused blocks open, in any thread
_was_enabled = False  # the collector's state when the first of them opened


def _new_lock() -> None:  # a fork inherits the lock as it was, perhaps held by a thread that is not there
    global _pausing
    _pausing = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a phase builds what it keeps (an import's sheet and rows, the daily
    run's plan, notices, letters and commit).

    Such a phase allocates hundreds of thousands of objects that live until it ends and makes almost no cyclic
    garbage (measured: ~300 objects over a whole first day at 100,000 findings, none in the render workers).
    With the collector on, each allocation burst sets off full collections that walk everything built so far
    again: a third of an import's checks, ~0.2 s of an ordinary day's plan, ~2 s of a first day. Processes
    forked inside (the render workers) inherit the pause. The collector is process-wide, so the pauses are
    counted across threads (a caller running an import and a daily run side by side): it comes back, as
    it was before the first pause, when the last one ends, in whatever order they end (each restoring its own
    view of it would turn it on under the other's phase, or leave it off for good); the few cycles made
    meanwhile go at its next collection."""
    global _pauses, _was_enabled
    with _pausing:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pausing:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """What the process holds now is left out of the collections made inside (`gc.freeze`), and given back to
    them after (`gc.unfreeze`). For the sending after a day is built: without it the built day, aged through
    the young generations, would be walked again by the sending's collections."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
