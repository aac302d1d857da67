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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
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


class _Held:
    """A process-wide state of the collector held by any number of `with` blocks, in any threads: `begin(first)`
    as each block opens (`first`: none was open), `end()` when the last one closes, in whatever order they
    close. The collector's switches are process-wide, so each block restoring its own view of them would
    undo another thread's block under it, or leave them set for good."""

    def __init__(self, begin: Callable[[bool], None], end: Callable[[], None]) -> None:
        self._begin, self._end = begin, end
        self._lock = threading.Lock()
        self._open = 0

    def renew_lock(self) -> None:  # a fork inherits the lock as it was, perhaps held by a thread not there
        self._lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            self._begin(self._open == 0)
            self._open += 1
        try:
            yield
        finally:
            with self._lock:
                self._open -= 1
                if self._open == 0:
                    self._end()


_was_enabled = False  # the collector's switch when the first pause began


def _pause(first: bool) -> None:
    global _was_enabled
    if first:
        _was_enabled = gc.isenabled()
        gc.disable()


def _resume() -> None:
    if _was_enabled:
        gc.enable()


_PAUSE = _Held(_pause, _resume)
_FREEZE = _Held(lambda _first: gc.freeze(), gc.unfreeze)  # each block freezes what the process holds by then

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: (_PAUSE.renew_lock(), _FREEZE.renew_lock()))


def collector_paused() -> AbstractContextManager[None]:
    """Python's cycle collector off while a phase builds what it keeps (an import's sheet and rows, the daily
    run's plan, notices, letters and commit).

    Such a phase allocates hundreds of thousands of objects that live until it ends and makes almost no cyclic
    garbage (measured: ~300 objects over a whole first day at 100,000 findings, none in the render workers).
    With the collector on, each allocation burst sets off full collections that walk everything built so far
    again: a third of an import's checks, ~0.2 s of an ordinary day's plan, ~2 s of a first day. Processes
    forked inside (the render workers) inherit the pause. Pauses in several threads (an import beside a daily
    run) are counted: the collector comes back, as it was before the first, when the last one ends; the few
    cycles made meanwhile go at its next collection."""
    return _PAUSE.held()


def frozen() -> AbstractContextManager[None]:
    """What the process holds now is left out of the collections made inside (`gc.freeze`), and given back to
    them after (`gc.unfreeze`, once the last of such blocks in any thread ends). For the sending after a day
    is built: without it the built day, aged through the young generations, would be walked again by the
    sending's collections."""
    return _FREEZE.held()


def settle_for_serving() -> None:
    """A serving process (a `rectify web` worker) after start-up: collect once, then leave everything it holds
    now out of the cycle collector's walks for good (`gc.freeze`).

    What start-up leaves (the imported modules, SQLAlchemy's mappers, the app, its routes and templates) lives
    as long as the process, yet each full collection walked all of it: measured in a form worker under load,
    56–76 ms a time, while every request on that worker waited (the form bench's p99 is ~100 ms). Frozen, it is
    never walked again; what requests make is collected as before. Not for a process that also runs the daily
    run: its `frozen()` blocks unfreeze everything when they end."""
    gc.collect()  # garbage made by start-up goes now: once frozen it would stay for the process's life
    gc.freeze()
