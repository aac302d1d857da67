"""SQLite's WAL checkpoint kept out of the daily run's critical path.

Why: in WAL mode a commit appends pages to the write-ahead log, and once the log holds more than
`wal_autocheckpoint` pages (1,000 by default) the committing connection copies them into the database file
and syncs it before its COMMIT returns. The day's one transaction (levels, events and every letter with its
message: ~14 MB on an ordinary day of 100,000 findings, ~200 MB on a first day) is always past that mark, so
its commit waited for the copy and the sync: 0.26–0.33 s of an ordinary day's 0.6–0.7 s commit, measured on
the bench's county, doing nothing while the letters waited to be sent.

Here the day's commit leaves the log as it is (`commits_unchecked`), and the run checkpoints it in a thread
of its own (`behind`) while the mail goes out: the copy and the sync overlap the sending, which is CPU work.
Nothing about the data changes: a committed transaction is in the log, readers see it, a crash or a kill
replays the log on the next open, and with `synchronous=NORMAL` a commit was never synced before the
checkpoint anyway (the outbox's marks are not either). The checkpoint is PASSIVE: it never waits for a
reader or a writer (the form goes on), and whatever it could not copy the next commit's own automatic
checkpoint does. A commit of another connection meanwhile finds the checkpoint busy and goes on without one.

PostgreSQL: nothing to do; both helpers do nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)


@contextmanager
def commits_unchecked(engine: Engine) -> Iterator[Connection]:
    """A connection whose commits leave the WAL for a later checkpoint; the connection's own setting is put
    back before it returns to the pool (it is per connection: other connections are not touched)."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            yield conn
            return
        before = int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() or 0)
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        conn.commit()  # SQLAlchemy's autobegun transaction only: the driver began none for a PRAGMA
        try:
            yield conn
        finally:
            try:
                if conn.in_transaction():
                    conn.rollback()
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={before}")
                conn.commit()
            except Exception:  # never back to the pool without its checkpoints, nor hiding the first error
                conn.invalidate()


class Behind:
    """A PASSIVE checkpoint running in a thread; `join()` waits for it. A failure is logged, never raised:
    the next commit checkpoints anyway."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.result: tuple[int, int, int] | None = None  # (busy, pages in the log, pages copied)
        self._thread = threading.Thread(target=self._run, name="rectify-checkpoint", daemon=False)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self.engine.connect() as conn:
                row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
                conn.commit()
            self.result = (int(row[0]), int(row[1]), int(row[2]))
        except Exception as exc:  # an optimisation: the next commit's checkpoint does the work
            log.warning("WAL checkpoint after the day's commit failed (%s); the next commit does it",
                        type(exc).__name__)

    def join(self) -> None:
        self._thread.join()


def behind(engine: Engine) -> Behind | None:
    """Start checkpointing the WAL in a thread (SQLite), or None. Start it only after the last fork of the
    process (a forked child must not inherit SQLite's locks from a thread it does not have)."""
    return Behind(engine) if engine.dialect.name == "sqlite" else None
