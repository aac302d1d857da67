"""SQLite's WAL checkpoint out of the day's commit (rectify.checkpoint), on real SQLite files."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text

from rectify.checkpoint import behind, commits_unchecked
from rectify.db import make_engine
from rectify.runtime import build_runtime
from rectify.services.daily import PLAIN, commit_day, run_daily
from tests.test_daily_run import DAY, NOW, add, build_county


def _engine(tmp_path: Path, autocheckpoint: int | None = None):
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    if autocheckpoint is not None:
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, blob BLOB)")
    return engine


def _fill(conn, rows: int = 600) -> None:
    conn.execute(text("INSERT INTO t (blob) VALUES (randomblob(8000))"), [{}] * rows)  # ~1,200 pages


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def test_it_leaves_a_big_commit_in_the_log_for_the_checkpoint_behind(tmp_path) -> None:
    engine = _engine(tmp_path)
    db = tmp_path / "c.db"
    before = _size(db)
    with commits_unchecked(engine) as conn:
        _fill(conn)
        conn.commit()
    assert _size(db) == before  # past the 1,000-page mark, and still only in the log
    assert _size(tmp_path / "c.db-wal") > 4_000_000
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 600  # committed: visible to others
    ckpt = behind(engine)
    assert ckpt is not None
    ckpt.join()
    busy, log, copied = ckpt.result
    assert busy == 0 and log == copied > 1_000
    assert _size(db) > before + 4_000_000
    engine.dispose()


def test_it_checkpoints_at_commit_on_an_ordinary_connection(tmp_path) -> None:
    """The control: the same commit without `commits_unchecked` copies the log into the file itself."""
    engine = _engine(tmp_path)
    before = _size(tmp_path / "c.db")
    with engine.connect() as conn:
        _fill(conn)
        conn.commit()
    assert _size(tmp_path / "c.db") > before + 4_000_000
    engine.dispose()


def test_it_puts_the_connections_setting_back_after_a_commit_and_after_an_error(tmp_path) -> None:
    engine = _engine(tmp_path, autocheckpoint=50)
    with commits_unchecked(engine) as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        _fill(conn, 5)
        conn.commit()
    with pytest.raises(RuntimeError), commits_unchecked(engine) as conn:
        _fill(conn, 7)
        raise RuntimeError("the day's commit failed")
    with engine.connect() as conn:  # the pool's one connection, back with its own setting
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 50
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 5  # the failed transaction rolled back
    engine.dispose()


def test_it_never_pools_a_connection_whose_setting_could_not_be_put_back(tmp_path) -> None:
    """The connection dies inside (its database handle closed under it): the setting cannot be put back, the
    block's own error is the one raised (not the failed restore's), and the pool hands out a new connection.
    SQLAlchemy itself discards a connection whose handle is closed, so this holds the behaviour whichever layer
    throws the connection away; `commits_unchecked` invalidates it too for failures SQLAlchemy would keep."""
    engine = _engine(tmp_path, autocheckpoint=50)
    with pytest.raises(RuntimeError, match="the day's commit failed"), commits_unchecked(engine) as conn:
        dead = conn.connection.dbapi_connection
        dead.close()
        raise RuntimeError("the day's commit failed")
    with engine.connect() as conn:  # a new connection, with the checkpoints it is configured with
        assert conn.connection.dbapi_connection is not dead
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 50
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    engine.dispose()


def test_it_does_nothing_on_postgresql(pg_template_url) -> None:
    engine = make_engine(pg_template_url)
    assert behind(engine) is None
    with commits_unchecked(engine) as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SQLite's WAL: PostgreSQL has no checkpoint to move
def test_the_days_commit_leaves_the_log_and_the_run_checkpoints_it_while_sending(smtp_settings, smtp_sink) -> None:
    mail_rt = build_runtime(smtp_settings)
    county = build_county(mail_rt)
    for _ in range(40):
        add(mail_rt, county, "fin", DAY.replace(day=5), problem="逾期问题" * 200)
    db = Path(mail_rt.engine.url.database)
    with mail_rt.engine.begin() as conn:  # a clean start: everything so far in the file, the log empty
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    seen: dict[str, int] = {}

    def commit(rt, day, queued):
        # Any commit of the test's engine would checkpoint at once (1 page), except the day's.
        event.listen(rt.engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA wal_autocheckpoint=1"))
        rt.engine.dispose()
        seen["file before"] = _size(db)
        new = commit_day(rt, day, queued)
        seen["file after"], seen["log after"] = _size(db), _size(Path(f"{db}-wal"))
        return new

    def deliver(rt, now):
        grown = time.monotonic() + 10
        while _size(db) == seen["file after"] and time.monotonic() < grown:  # nothing has committed since
            time.sleep(0.01)
        seen["file while sending"] = _size(db)
        return PLAIN.deliver(rt, now)

    report = run_daily(mail_rt, DAY, NOW, steps=dataclasses.replace(PLAIN, commit=commit, deliver=deliver))
    assert report.sent == len(smtp_sink.received) > 0
    assert seen["file after"] == seen["file before"] and seen["log after"] > 100_000  # the letters, in the log
    assert seen["file while sending"] > seen["file after"]  # copied by the run's checkpoint, before any mark
    mail_rt.close()
