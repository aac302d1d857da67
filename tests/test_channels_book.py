"""A dispatch's marks (rectify.channels.book): made on the event loop when SQLite's write lock is free at
once, left to the writer's thread - waiting as long as it takes - when another writer holds it, and never
half-made either way. Real SQLite files; the lock is held by a second connection, as another process's
write would hold it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from models import OutboxMessage
from rectify.channels.book import Book, ChannelReport, _busy
from rectify.mail import claims, outbox
from tests.test_channels_send import AT_WORK, queue, row

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL marks in the thread


def _claimed(rt, n: int) -> tuple[Book, list[int]]:
    """A Book whose worker has claimed n 企业微信 rows (as the dispatcher's claim leaves them)."""
    queue(rt, *(row(f"p{i}@u.example", "wecom", f"P{i}") for i in range(n)))
    book = Book(rt, ChannelReport(), "worker-1", lambda: AT_WORK)
    got = book.claim("wecom", 50, None, set())
    return book, [r[0] for r in got]


def _states(rt) -> dict[int, str]:
    with rt.sessions() as s:
        return {i: state for i, state in s.execute(select(OutboxMessage.id, OutboxMessage.state))}


def _path(rt) -> str:
    return rt.engine.url.database


@SQLITE
def test_it_marks_on_the_event_loop_when_the_lock_is_free(rt) -> None:
    book, ids = _claimed(rt, 3)
    marks_in: list[str] = []
    real = book._marks

    def spy(conn, group):
        marks_in.append(threading.current_thread().name)
        return real(conn, group)

    book._marks = spy

    async def go() -> None:
        for _ in ids:
            book.writer.started()
        for i in ids:
            await book.writer.sent(i)

    asyncio.run(go())
    book.close_quick()
    book.writer.close(book.close)
    assert set(_states(rt).values()) == {outbox.SENT}
    assert book.report.sent == {"wecom": 3}
    assert marks_in and set(marks_in) == {threading.main_thread().name}  # no thread hand-off


@SQLITE
def test_a_busy_lock_writes_nothing_on_the_loop_and_the_thread_marks_once_it_is_free(rt) -> None:
    book, ids = _claimed(rt, 2)
    other = sqlite3.connect(_path(rt), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write holds the lock
    try:
        assert book.mark_now(ids) is False  # at once: busy_timeout 0 on the loop's connection
        assert set(_states(rt).values()) == {outbox.SENDING} and not book.report.sent  # nothing half-made
        ticks: list[float] = []

        async def go() -> None:
            async def ticker() -> None:
                while True:
                    ticks.append(asyncio.get_running_loop().time())
                    await asyncio.sleep(0.01)

            tick = asyncio.create_task(ticker())
            asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")  # the other write ends
            for _ in ids:
                book.writer.started()
            await asyncio.gather(*(book.writer.sent(i) for i in ids))
            tick.cancel()

        asyncio.run(go())
    finally:
        other.close()
    book.close_quick()
    book.writer.close(book.close)
    assert set(_states(rt).values()) == {outbox.SENT}
    assert book.report.sent == {"wecom": 2}  # counted once, by the thread's mark
    assert len(ticks) >= 20  # the loop went on while the thread waited out the lock


@SQLITE
def test_the_loops_connection_never_returns_to_the_pool_with_its_pragmas(rt) -> None:
    book, ids = _claimed(rt, 1)
    assert book.mark_now(ids) is True
    book.close_quick()
    book.writer.close(book.close)
    for _ in range(3):  # whatever the pool hands out next waits for a busy lock as configured
        with rt.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() > 0


@SQLITE
def test_a_row_not_this_workers_is_not_marked_on_the_loop(rt) -> None:
    book, ids = _claimed(rt, 2)
    with rt.engine.begin() as conn:  # its lease lapsed and another sender took the first row meanwhile
        claims.claim(conn, "wecom", worker="worker-2", now=datetime(2026, 11, 30, 5, 0, tzinfo=UTC), limit=1,
                     ids=ids[:1])
    taken = _states(rt)
    assert book.mark_now(ids) is True
    book.close_quick()
    book.writer.close(book.close)
    assert book.report.sent == {"wecom": 1}  # compare-and-set: only the row still this worker's
    assert _states(rt) == {**taken, ids[1]: outbox.SENT}


def test_only_a_busy_or_locked_database_counts_as_busy(tmp_path) -> None:
    """Anything else (a missing table, a full disk) is raised by the mark, not handed to the thread."""
    path = tmp_path / "lock.db"
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as busy:
        other.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as missing:
        other.execute("SELECT * FROM nowhere")
    holder.close()
    other.close()
    assert _busy(OperationalError("BEGIN IMMEDIATE", None, busy.value))
    assert not _busy(OperationalError("SELECT", None, missing.value))
