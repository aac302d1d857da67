"""Give freed memory back to the operating system between the daily run's phases.

A first day at a million findings builds its plan, then its notices, then its letters, then sends: each phase
frees most of what the one before it allocated, but glibc keeps freed heap pages mapped, so the process's
resident size only ever grows and its peak is the sum of the phases' leftovers. `malloc_trim(0)` returns the
free pages (also those in the middle of the heap, since glibc 2.8). Elsewhere (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
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
