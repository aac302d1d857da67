"""PostgreSQL restarted mid-run (`pg_ctl restart -m immediate`), issue 12: during the send and during the
day's commit. Nothing is lost, nothing is left `sending`, no traceback; the lost connection is tried again,
and a re-run sends what is left with at most `smtp.concurrency` duplicates.

A private PostgreSQL cluster (the shared one serves other tests), a real aiosmtpd server counting Message-IDs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from models import Event
from rectify.config import Settings
from rectify.runtime import build_runtime
from rectify.services.daily import run_daily
from tests.conftest import serve_pg
from tests.support.counting_sink import CountingSink, outbox_states
from tests.support.county import seed_county
from tests.support.keys import TEST_SECRET

RECTIFY = str(Path(sys.executable).with_name("rectify"))
UNITS = 30  # 督办 today for each: contact and leader, plus one letter for the group (61 letters)
LETTERS = 2 * UNITS + 1
DAY, NOW = date(2024, 1, 31), datetime(2024, 1, 31, 0, 30, tzinfo=UTC)
pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg():
    yield from serve_pg(durable=True)  # a restart must not forget acknowledged marks (production settings)


@pytest.fixture
def sink():
    s = CountingSink(pause=0.03)
    s.controller.start()
    yield s
    s.controller.stop()


def test_it_rides_out_a_postgresql_restart_during_the_send(pg, sink, tmp_path) -> None:
    url = pg.create_database("rectify")
    seed_county(url, [f"单位{i:03d}" for i in range(UNITS)], date(2024, 1, 22))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RECTIFY_"))}
    env.update(RECTIFY_DATABASE_URL=url, RECTIFY_DATA_DIR=str(tmp_path / "var"), RECTIFY_SECRET_KEY=TEST_SECRET,
               RECTIFY_COMMAND_OFFICE='["office@county.example"]', RECTIFY_SMTP__HOST="127.0.0.1",
               RECTIFY_SMTP__PORT=str(sink.port))
    sink.act, sink.at = pg.restart, 15
    run = subprocess.run([RECTIFY, "remind", "--as-of", DAY.isoformat()], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert "Traceback" not in out, out
    if run.returncode == 2:  # gave up: one line saying what happened
        assert len([ln for ln in run.stderr.splitlines() if ln.strip()]) == 1, out
    else:
        assert run.returncode == 0, out  # the connection came back within the retry budget
    sink.act = None
    again = subprocess.run([RECTIFY, "remind", "--as-of", DAY.isoformat()], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert outbox_states(url) == {"sent": LETTERS}  # nothing left `sending` or pending
    assert len(sink.rcpts) == LETTERS  # nothing lost
    assert sink.duplicates <= Settings(secret_key=TEST_SECRET).smtp.concurrency, sink.ids.most_common(5)


def test_it_rides_out_a_postgresql_restart_at_the_days_commit(pg, sink, tmp_path) -> None:
    url = pg.create_database("rectify")
    seed_county(url, [f"单位{i:03d}" for i in range(UNITS)], date(2024, 1, 22))
    settings = Settings(database_url=url, secret_key=TEST_SECRET, data_dir=tmp_path / "var",
                        command_office=["office@county.example"],
                        smtp={"host": "127.0.0.1", "port": sink.port, "timeout": 5.0})
    rt = build_runtime(settings)
    hit = {"queued": False, "restarted": False}

    @event.listens_for(rt.engine, "before_cursor_execute")
    def queued(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            hit["queued"] = True  # inside the day's one transaction

    @event.listens_for(rt.engine, "commit")
    def restart(conn) -> None:
        if hit["queued"] and not hit["restarted"]:
            hit["restarted"] = True
            pg.restart()  # the COMMIT then meets a dead connection

    try:
        report = run_daily(rt, DAY, NOW)
        with rt.sessions() as s:
            escalations = s.scalar(select(func.count()).select_from(Event).where(Event.kind == "escalate"))
    finally:
        rt.close()
    assert hit["restarted"]
    assert report.conflict == "" and report.sent == LETTERS and escalations == UNITS  # each once
    assert outbox_states(url) == {"sent": LETTERS}
    assert len(sink.rcpts) == LETTERS and sink.duplicates == 0
