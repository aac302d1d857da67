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
import sys
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


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a phase builds what it keeps (an import's sheet and rows, the daily
    run's plan, notices, letters and commit).

    Such a phase allocates hundreds of thousands of objects that live until it ends and makes almost no cyclic
    garbage (measured: ~300 objects over a whole first day at 100,000 findings, none in the render workers).
    With the collector on, each allocation burst sets off full collections that walk everything built so far
    again: a third of an import's checks, ~0.2 s of an ordinary day's plan, ~2 s of a first day. Processes
    forked inside (the render workers) inherit the pause. On the way out the collector is restored as it was;
    the few cycles made meanwhile go at its next collection."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
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
