"""rectify.memory.give_back returns freed heap pages to the system (glibc), which the run's phases rely on."""

from __future__ import annotations

import os
import sys

import pytest

from rectify.memory import give_back


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_it_returns_freed_letters_to_the_system() -> None:
    letters = [bytes(20_000) + bytes([i % 256]) for i in range(5_000)]  # ~100 MB in letter-sized blocks
    keep = letters[::50]  # a few survivors scattered through the heap, as in a run
    del letters
    before = _rss_mib()
    assert give_back() is True
    after = _rss_mib()
    assert before - after > 50, (before, after)  # most of the freed ~98 MB went back
    assert len(keep) == 100
