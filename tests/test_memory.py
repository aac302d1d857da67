"""rectify.memory: give_back returns freed heap pages to the system (glibc), which the run's phases rely on;
collector_paused and frozen keep the cycle collector off what a phase builds, and put it back."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import pytest

from rectify.memory import collector_paused, frozen, give_back
from tests.support.keys import TEST_SECRET

ROOT = Path(__file__).resolve().parent.parent


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


class _Node:
    """A reference cycle, found only by the cycle collector."""

    def __init__(self) -> None:
        self.me = self


def _alive(ref) -> bool:
    return ref() is not None


def test_it_pauses_the_collector_and_puts_it_back_as_it_was() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the inner one leaves it off
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the phase failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def _held_in_a_thread(block, entered: threading.Event, leave: threading.Event) -> threading.Thread:
    def body() -> None:
        with block():
            entered.set()
            assert leave.wait(10)

    thread = threading.Thread(target=body)
    thread.start()
    assert entered.wait(10)
    return thread


HELD = {"paused": (collector_paused, lambda: not gc.isenabled()),
        "frozen": (frozen, lambda: gc.get_freeze_count() > 0)}


@pytest.mark.parametrize("first_out", ["thread", "caller"])
@pytest.mark.parametrize("kind", sorted(HELD))
def test_blocks_in_two_threads_hold_until_the_last_one_ends(kind, first_out) -> None:
    """Two phases in two threads of one process (an import beside a daily run): whichever ends first, the
    collector stays paused (the objects frozen) until the other ends, and is back as it was after both."""
    block, held = HELD[kind]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    entered, leave = threading.Event(), threading.Event()
    thread = _held_in_a_thread(block, entered, leave)
    try:
        with block():
            assert held()
            if first_out == "thread":
                leave.set()
                thread.join()
                assert held()  # the caller's block still holds
        assert held() is (first_out == "caller")
    finally:
        leave.set()
        thread.join()
    assert not held()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_it_keeps_what_is_held_out_of_collections_inside_and_gives_it_back_after() -> None:
    gc.collect()
    node = _Node()
    ref = weakref.ref(node)
    with frozen():
        assert gc.get_freeze_count() > 0
        del node  # garbage now, but frozen: collections inside do not look at it
        gc.collect()
        assert _alive(ref)
        fresh = _Node()  # made inside: collected as usual
        fresh_ref = weakref.ref(fresh)
        del fresh
        gc.collect()
        assert not _alive(fresh_ref)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert not _alive(ref)  # back in the collections once out


def test_it_unfreezes_after_an_error() -> None:
    with pytest.raises(RuntimeError), frozen():
        raise RuntimeError("sending failed")
    assert gc.get_freeze_count() == 0


_WORKER = """
import gc, weakref
class Node:
    def __init__(self): self.me = self
ref = weakref.ref(Node())  # garbage from start-up: a cycle only the collector frees
from web.app import from_settings
app = from_settings()
print(gc.get_freeze_count(), len(gc.get_objects()), ref() is None)
"""


def test_a_form_worker_leaves_its_start_up_out_of_the_collections_and_its_garbage_collected(tmp_path) -> None:
    """`rectify web`'s worker factory (web.app.from_settings): what start-up holds is frozen, so the walks of
    the collector under load cover only what requests make; start-up's garbage went first, not frozen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")} | {
        "RECTIFY_DATA_DIR": str(tmp_path / "var"), "RECTIFY_SECRET_KEY": TEST_SECRET}
    run = subprocess.run([sys.executable, "-c", _WORKER], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    frozen_objects, walked, garbage_gone = run.stdout.split()
    assert int(frozen_objects) > 50_000  # the modules, mappers, app and routes
    assert int(walked) < int(frozen_objects) // 100
    assert garbage_gone == "True"
