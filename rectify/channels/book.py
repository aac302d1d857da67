"""One IM/SMS dispatch's shared state and its database writes: the claims, the grouped marks of accepted
rows (in the writer's thread, or on the event loop when SQLite's lock is free at once) and the records of
rows that did not go. rectify.channels.dispatch drives it; every write goes through its Writer, one at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from rectify.channels import results as dingtalk_results
from rectify.channels.writer import Writer
from rectify.mail import claims, outbox
from rectify.runtime import Runtime

log = logging.getLogger("rectify.channels.dispatch")  # the rows' warnings under the dispatcher's name, as before


@dataclass
class ChannelReport:
    sent: Counter[str] = field(default_factory=Counter)  # channel → rows sent
    failed: list[tuple[int, str, str, str]] = field(default_factory=list)  # (id, channel, recipient, error)
    pending: list[tuple[int, str, str, str]] = field(default_factory=list)  # transient: retried next run
    down: dict[str, str] = field(default_factory=dict)  # channel → why it stopped this run
    deferred_until: datetime | None = None  # quiet hours: nothing sent before this

    def as_dict(self) -> dict[str, Any]:
        return {"sent": dict(self.sent), "failed": [{"channel": c, "to": r, "error": e} for _, c, r, e in self.failed],
                "pending": [{"channel": c, "to": r, "error": e} for _, c, r, e in self.pending],
                "down": dict(self.down),
                "deferred_until": self.deferred_until.isoformat() if self.deferred_until else None}


def _file_sqlite(rt: Runtime) -> bool:
    """A SQLite database in a file: a second connection sees the same database (not so in memory)."""
    url = rt.engine.url
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
        and "memory" not in str(url.query.get("mode", ""))


def _busy(exc: OperationalError) -> bool:
    """SQLite's SQLITE_BUSY or SQLITE_LOCKED (another writer holds the lock, any extended code of them) - and
    nothing else: a full disk or an I/O error is raised, not retried in the thread."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@dataclass
class Book:
    """One dispatch's shared state: its writer, and what marking a group of accepted rows needs (each row's
    channel; for 钉钉 its meta and task_id, recorded in the same transaction)."""

    rt: Runtime
    report: ChannelReport
    worker: str
    clock: Callable[[], datetime]
    channel_of: dict[int, str] = field(default_factory=dict)
    metas: dict[int, dict[str, Any]] = field(default_factory=dict)
    refs: dict[int, str] = field(default_factory=dict)
    held: Connection | None = None  # SQLite: the writer thread's connection (transaction())
    quick: Connection | None = None  # SQLite: the event loop's, for marks that need not wait (mark_now)
    writer: Writer = field(init=False)

    def __post_init__(self) -> None:
        self.writer = Writer(self.mark, now=self.mark_now if _file_sqlite(self.rt) else None)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction for the writer thread's claims and marks. SQLite: on one connection held for the
        dispatch (a pool checkout and return cost as much as a mark's UPDATE); PostgreSQL: a pooled one
        each time, checked before use, so that a server restart between two marks costs nothing."""
        if self.rt.engine.dialect.name != "sqlite":
            with self.rt.engine.begin() as conn:
                yield conn
            return
        if self.held is None:
            self.held = self.rt.engine.connect()
        with self.held.begin():
            yield self.held

    def close_quick(self) -> None:
        """In the event loop's thread, which opened it. Invalidated: its pragmas never reach the pool."""
        if self.quick is not None:
            self.quick.invalidate()
            self.quick.close()
            self.quick = None

    def close(self) -> None:
        if self.held is not None:
            self.held.close()
            self.held = None

    def mark(self, ids: list[int]) -> None:
        """One transaction on a plain connection (an ORM session costs a third more per mark; the statements
        are outbox's own, which take either)."""
        with self.transaction() as conn:
            sent = self._marks(conn, ids)
        self._marked(ids, sent)

    def mark_now(self, ids: list[int]) -> bool:
        """SQLite: the mark on the event loop when the database's write lock is free at once - one thread
        hand-off less a mark. Its connection never waits (busy_timeout 0) and never checkpoints (the other
        connections do), so the loop is held for the mark's own microseconds only; a busy lock writes
        nothing and returns False, and the writer's thread makes the mark, waiting as long as it takes."""
        if self.quick is None:
            self.quick = self.rt.engine.connect()
            self.quick.exec_driver_sql("PRAGMA busy_timeout=0")
            self.quick.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            self.quick.commit()
        try:
            with self.quick.begin():
                sent = self._marks(self.quick, ids)
        except OperationalError as exc:
            if not _busy(exc):
                raise
            return False
        self._marked(ids, sent)
        return True

    def _marks(self, conn: Connection, ids: list[int]) -> Counter[str]:
        by_channel: dict[str, list[int]] = {}
        for i in ids:
            by_channel.setdefault(self.channel_of[i], []).append(i)
        sent: Counter[str] = Counter()
        for name, group in by_channel.items():
            sent[name] += outbox.mark_sent(conn, group, worker=self.worker, now=self.clock())
        dingtalk_results.record_tasks(conn, [(i, self.metas.get(i, {}), self.refs[i]) for i in ids
                                             if i in self.refs], self.worker)
        return sent

    def _marked(self, ids: list[int], sent: Counter[str]) -> None:
        """After the mark's commit (not before: a busy mark is made again by the thread)."""
        self.report.sent.update(sent)
        for i in ids:
            self.metas.pop(i, None)
            self.refs.pop(i, None)

    def claim(self, name: str, batch: int, ids: list[int] | None,
              exclude: set[int]) -> list[tuple[int, str, dict[str, Any]]]:
        with self.transaction() as conn:
            rows = claims.claim(conn, name, worker=self.worker, now=self.clock(), limit=batch, ids=ids,
                                exclude=exclude, returning=("recipient", "message", "meta") if name == "dingtalk"
                                else ("recipient", "message"))
        self.channel_of.update((r[0], name) for r in rows)
        if name == "dingtalk":
            self.metas.update((r[0], dict(r[3] or {})) for r in rows)
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    def record(self, name: str, results: dict[int, tuple[str, str]], recipients: dict[int, str],
               retry_later: set[int]) -> None:
        """A batch's rows that did not go: given back (the channel is down), retried later or failed."""
        cfg, report = self.rt.settings.channels, self.report
        with self.rt.sessions() as s, s.begin():
            # The channel is down, not the row: claimed rows go back with their attempts as they were, so an
            # outage of any length never fails a row.
            idle = [i for i, (o, _) in results.items() if o in ("down", "untried")]
            outbox.release(s, idle, worker=self.worker, error=report.down.get(name, ""))
            report.pending.extend((i, name, recipients[i], report.down.get(name, "")) for i in idle)
            for i, (outcome, error) in results.items():
                if outcome in ("sent", "down", "untried"):
                    continue
                state = outbox.mark_error(s, i, error, worker=self.worker, permanent=outcome == "never",
                                          max_attempts=cfg.max_attempts)
                (report.failed if state == outbox.FAILED else report.pending).append((i, name, recipients[i], error))
                retry_later.add(i)
                log.warning("%s row %s to %s: %s", name, i, recipients[i], error)


