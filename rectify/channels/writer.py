"""The dispatch's one database writer: claims, marks and error records of every channel, one at a time, in
one thread, never on the event loop.

Why: the channels send side by side, and each accepted row is marked at once. Two channels writing on their
own would meet inside SQLite's single-writer lock, where the busy handler sleeps (up to 100 ms a time) and,
for a claim made on the event loop, stalls every send in flight. Here they queue in Python instead, and
marks are grouped: an accepted row waits for the write in progress, then everything accepted meanwhile (any
channel) is marked in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Writer:
    def __init__(self, mark: Callable[[list[int]], object]) -> None:
        self._mark = mark
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="channels-db")
        self._lock = asyncio.Lock()
        self._waiting: list[int] = []
        self._done: set[int] = set()
        self._failed: dict[int, Exception] = {}

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the writer's thread, after the writes before it."""
        async with self._lock:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def sent(self, row_id: int) -> None:
        """Returns once this row is marked sent (with whatever else was accepted meanwhile)."""
        self._waiting.append(row_id)
        async with self._lock:
            if row_id in self._done:
                self._done.discard(row_id)
                return
            if row_id in self._failed:  # marked with others, and that transaction failed: so did this row
                raise self._failed.pop(row_id)
            ids, self._waiting = self._waiting, []
            try:
                await asyncio.get_running_loop().run_in_executor(self._pool, self._mark, ids)
            except Exception as exc:
                self._failed.update((i, exc) for i in ids if i != row_id)
                raise
            self._done.update(i for i in ids if i != row_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
