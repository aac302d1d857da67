"""The dispatch's one writer (rectify.channels.writer): grouped marks, failures reaching every row of their
group, writes in order and in the writer's thread, never on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

from rectify.channels.writer import Writer


class Marks:
    """The mark callback: records each group, and where it ran; fails on request."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.threads: set[str] = set()
        self.fail = False

    def __call__(self, ids: list[int]) -> None:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("database is locked")
        self.groups.append(sorted(ids))


async def _send_all(writer: Writer, ids: list[int]) -> list[object]:
    """Rows sent side by side: each started, then accepted a moment apart, then `sent` (marked)."""

    async def one(i: int, delay: float) -> object:
        writer.started()
        await asyncio.sleep(delay)
        try:
            await writer.sent(i)
        except RuntimeError as exc:
            return exc
        return i

    return await asyncio.gather(*(one(i, 0.001 * k) for k, i in enumerate(ids)))


def test_it_marks_rows_accepted_together_in_one_group() -> None:
    marks = Marks()
    writer = Writer(marks, window=0.5)  # a long window: every row is waiting before it ends
    got = asyncio.run(_send_all(writer, [1, 2, 3, 4]))
    writer.close()
    assert got == [1, 2, 3, 4]
    assert marks.groups == [[1, 2, 3, 4]]  # all four were in flight: one transaction once all were waiting
    assert threading.main_thread().name not in marks.threads  # a busy database never holds up the event loop


def test_it_marks_at_once_when_no_other_row_is_in_flight() -> None:
    marks = Marks()
    writer = Writer(marks, window=30)  # the window never ends in this test: it must not be waited

    async def main() -> None:
        for i in (1, 2, 3):
            writer.started()
            await writer.sent(i)

    asyncio.run(asyncio.wait_for(main(), 5))
    writer.close()
    assert marks.groups == [[1], [2], [3]]


def test_it_fails_every_row_of_a_group_whose_mark_failed() -> None:
    marks = Marks()
    marks.fail = True
    writer = Writer(marks, window=0.5)
    got = asyncio.run(_send_all(writer, [5, 6, 7]))
    writer.close()
    assert [str(g) for g in got] == ["database is locked"] * 3  # none of them may count as sent
    assert marks.groups == []


def test_it_runs_writes_in_order_and_the_last_after_them() -> None:
    order: list[str] = []
    writer = Writer(lambda ids: order.append(f"mark {ids}"))

    async def main() -> None:
        writer.started()
        await writer.sent(1)
        assert await writer.run(lambda what: order.append(what) or what, "claim") == "claim"
        writer.started()
        writer.finished()  # a row that did not go: nothing to mark

    asyncio.run(main())
    writer.close(lambda: order.append("close"))
    assert order == ["mark [1]", "claim", "close"]


def test_it_keeps_the_event_loop_answering_while_a_write_waits_for_a_locked_database() -> None:
    """Why the writes have a thread: SQLite's busy handler may wait seconds for another process's write (a
    big import, a catch-up commit). Waited out on the event loop, that would let the HTTP timeouts of the
    sends in flight fire on answers that had already come, and an accepted SMS would be sent again."""
    writer = Writer(lambda ids: time.sleep(0.6))  # a write that waits for the lock
    gaps: list[float] = []

    async def ticker(done: asyncio.Event) -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def main() -> None:
        done = asyncio.Event()
        ticks = asyncio.create_task(ticker(done))
        writer.started()
        await writer.sent(1)
        done.set()
        await ticks

    asyncio.run(main())
    writer.close()
    assert sum(gaps) >= 0.5 and max(gaps) < 0.3  # the loop ran throughout the 0.6 s write
