"""The dispatch's one database writer: claims, marks and error records of every channel, one at a time, in
one thread - or, for a mark that can be made without waiting (`now`: SQLite's write lock free at once), on
the event loop, which saves the thread hand-off a mark otherwise costs (about a third of a mark's CPU).

Why: the channels send side by side, and each accepted row is marked before its send slot is given back.
Two channels writing on their own would meet inside SQLite's single-writer lock, where the busy handler
sleeps (up to 100 ms a time) and, for a claim made on the event loop, stalls every send in flight. Here they
queue in Python instead, and marks are grouped: an accepted row waits for the write in progress, then
everything accepted meanwhile (any channel) is marked in one transaction. A mark also waits a few
milliseconds (`window`) for the other rows still being sent, unless all of them are already waiting: a
transaction costs about a millisecond of CPU whatever its size, and loopback answers come a few at a time.
Rows keep their slots while they wait, so a crash still repeats at most the rows in flight. Nothing that
may wait (a claim, a busy lock) runs on the event loop: SQLite's busy handler may wait seconds for another
process's write, and waited out there it would let the HTTP timeouts of the sends in flight fire on
answers that had already come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
WINDOW = 0.005  # seconds a mark waits for the rows still being sent


class Writer:
    def __init__(self, mark: Callable[[list[int]], object], window: float = WINDOW,
                 now: Callable[[list[int]], bool] | None = None) -> None:
        """`now(ids)`: the mark made on the event loop if it can be made without waiting (True), or
        nothing written (False: the thread makes it); tried before the thread's `mark`."""
        self._mark = mark
        self._now = now
        self._window = window
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="channels-db")
        self._lock = asyncio.Lock()
        self._waiting: list[int] = []
        self._done: set[int] = set()
        self._failed: dict[int, Exception] = {}
        self._sending = 0  # rows holding a send slot: being sent, or accepted and waiting for their mark
        self._all_waiting: asyncio.Event | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the writer's thread, after the writes before it."""
        async with self._lock:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def started(self) -> None:
        """A row is being sent (it will come to `sent`, or to `finished` if it did not go)."""
        self._sending += 1

    def finished(self) -> None:
        """A row that was being sent did not go: nothing to mark."""
        self._sending -= 1
        self._check()

    def _check(self) -> None:
        if self._all_waiting is not None and len(self._waiting) >= self._sending:
            self._all_waiting.set()

    async def sent(self, row_id: int) -> None:
        """Returns once this row is marked sent (with whatever else was accepted meanwhile)."""
        self._waiting.append(row_id)
        self._check()
        async with self._lock:
            if row_id in self._done:
                self._done.discard(row_id)
                return
            if row_id in self._failed:  # marked with others, and that transaction failed: so did this row
                raise self._failed.pop(row_id)
            if self._window and len(self._waiting) < self._sending:
                self._all_waiting = asyncio.Event()
                try:
                    async with asyncio.timeout(self._window):
                        await self._all_waiting.wait()
                except TimeoutError:
                    pass
                finally:
                    self._all_waiting = None
            ids, self._waiting = self._waiting, []
            try:
                if self._now is None or not self._now(ids):
                    await asyncio.get_running_loop().run_in_executor(self._pool, self._mark, ids)
            except Exception as exc:
                self._failed.update((i, exc) for i in ids if i != row_id)
                raise
            finally:
                self._sending -= len(ids)
            self._done.update(i for i in ids if i != row_id)

    def close(self, last: Callable[[], object] | None = None) -> None:
        """Wait for the writes in progress; `last` runs in the writer's thread after them."""
        if last is not None:
            self._pool.submit(last)
        self._pool.shutdown(wait=True)
