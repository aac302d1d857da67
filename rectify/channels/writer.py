"""The dispatch's one database writer: claims, marks and error records of every channel, one at a time.

Why: the channels send side by side, and each accepted row is marked before its send slot is given back.
Two channels writing on their own would meet inside SQLite's single-writer lock, where the busy handler
sleeps (up to 100 ms a time) while sends wait. Here they queue in Python instead.

Where the writes run: on PostgreSQL in a thread of their own (a write is a network round trip, and a
server that went away must not hold up the event loop); on SQLite on the event loop itself (`inline`): a
write there is a local file's, ~0.3 ms of CPU, and handing it to a thread and back cost a third as much
again (docs/channels-cost.md, stop 32). Either way one at a time, in order.

Marks are grouped: an accepted row waits for the write in progress, then everything accepted meanwhile
(any channel) is marked in one transaction. A mark also waits a few milliseconds (`window`) for the other
rows still being sent, unless all of them are already waiting: a transaction costs about a millisecond of
CPU whatever its size, and loopback answers come a few at a time. Rows keep their slots while they wait,
so a crash still repeats at most the rows in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
WINDOW = 0.005  # seconds a mark waits for the rows still being sent


class Writer:
    def __init__(self, mark: Callable[[list[int]], object], window: float = WINDOW, *, inline: bool = False) -> None:
        self._mark = mark
        self._window = window
        self._pool = None if inline else ThreadPoolExecutor(1, thread_name_prefix="channels-db")
        self._lock = asyncio.Lock()
        self._waiting: list[int] = []
        self._done: set[int] = set()
        self._failed: dict[int, Exception] = {}
        self._sending = 0  # rows holding a send slot: being sent, or accepted and waiting for their mark
        self._all_waiting: asyncio.Event | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` after the writes before it (in the writer's thread, or inline)."""
        async with self._lock:
            return await self._call(fn, *args)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            return fn(*args)
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
                await self._call(self._mark, ids)
            except Exception as exc:
                self._failed.update((i, exc) for i in ids if i != row_id)
                raise
            finally:
                self._sending -= len(ids)
            self._done.update(i for i in ids if i != row_id)

    def close(self, last: Callable[[], object] | None = None) -> None:
        """Wait for the writes in progress; `last` runs where they ran (the writer's thread), after them."""
        if self._pool is None:
            if last is not None:
                last()
            return
        if last is not None:
            self._pool.submit(last)
        self._pool.shutdown(wait=True)
