"""The outbox keeps every letter ever sent. The statements a send runs over and over - claims (mail and
IM/SMS), marks, lease renewals, releases - must find their few rows through an index whatever the planner's
statistics say, never by walking the whole history with its messages. SQLite's statistics after a day's
ANALYZE (at most 2,000 rows sampled per index) can make a state look as common as any other: here they say
so outright, and every plan is read with EXPLAIN QUERY PLAN."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event

from rectify.db import make_engine, refresh_statistics, session_factory
from rectify.mail import claims, outbox

NOW = datetime(2025, 6, 5, 1, 0, tzinfo=UTC)


def _county_outbox(path: Path, sqlite_template: Path):
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    rows = []
    for i in range(3000):  # history: sent letters; today: pending letters and 企业微信 cards; one lost sender
        state, day, channel = ("sent", "2025-06-04", "mail") if i < 2000 else ("pending", "2025-06-05", "mail")
        if i >= 2700:
            channel = "wecom"
        rows.append((f"k{i}", f"p{i}@x.example", "daily", day, "s", 1, "{}", state, 0, "",
                     "2025-06-04 00:00:00.000000", channel))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO outbox (dedupe_key, recipient, kind, day, subject, items, meta, state, attempts, "
            "last_error, created_at, channel) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.exec_driver_sql("INSERT INTO outbox_bodies (id, message) SELECT id, randomblob(3000) FROM outbox")
        conn.exec_driver_sql("UPDATE outbox SET state = 'sending', claimed_by = 'elsewhere|1|1|x', "
                             "lease_until = '2025-06-04 00:00:00.000000' WHERE id IN (2001, 2702)")
    refresh_statistics(engine)
    with engine.begin() as conn:  # the worst a sample can say: half the rows in each state
        conn.exec_driver_sql("UPDATE sqlite_stat1 SET stat = '3000 1500 1' WHERE idx = 'ix_outbox_state_id'")
        conn.exec_driver_sql("UPDATE sqlite_stat1 SET stat = '3000 1500 1500 1' "
                             "WHERE idx = 'ix_outbox_channel_state_id'")
        conn.exec_driver_sql("ANALYZE sqlite_schema")  # reload them
    return engine


def test_it_never_walks_the_whole_outbox_to_claim_mark_renew_or_release(tmp_path: Path,
                                                                        sqlite_template: Path) -> None:
    engine = _county_outbox(tmp_path / "outbox.db", sqlite_template)
    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, many) -> None:
        if "outbox" in statement and not many:
            seen.append((statement, tuple(parameters)))

    sessions = session_factory(engine)
    event.listen(engine, "before_cursor_execute", record)
    try:
        with sessions() as s:
            mail = outbox.claim(s, worker="w|1|1|a", now=NOW, limit=200)
            assert len(mail) == 200 and 2001 in {r.id for r in mail}  # the lost sender's letter among them
            outbox.claim(s, worker="w|1|1|a", now=NOW, limit=50, where=outbox.OutboxMessage.kind == "daily",
                         exclude=[r.id for r in mail[:5]])
            outbox.count_pending(s)
        with engine.begin() as conn:
            cards = claims.claim(conn, "wecom", worker="w|1|1|b", now=NOW, limit=500, exclude={2703})
            assert len(cards) == 299 and cards[0][0] == 2701
            outbox.mark_sent(conn, [r.id for r in mail[:50]], worker="w|1|1|a", now=NOW)
        with sessions() as s, s.begin():
            assert outbox.renew(s, worker="w|1|1|a", until=NOW + timedelta(minutes=10)) >= 150
            outbox.release(s, [r.id for r in mail[50:60]], worker="w|1|1|a")
            outbox.mark_error(s, mail[60].id, "timeout", worker="w|1|1|a", permanent=False, max_attempts=5)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(seen) > 10
    with engine.connect() as conn:
        plans = {" ".join(statement.split()): [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN "
                                                                                        + statement, parameters)]
                 for statement, parameters in seen}
    engine.dispose()
    walked = {s: plan for s, plan in plans.items()
              if any(step.startswith("SCAN outbox") and "INDEX" not in step for step in plan)}
    assert walked == {}
    owners = [plan for s, plan in plans.items() if s.startswith("SELECT DISTINCT outbox.claimed_by")]
    renewal = [plan for s, plan in plans.items() if s.startswith("UPDATE outbox SET lease_until")]
    assert len(owners) == 1 and len(renewal) == 1  # one claim for mail and 企业微信 alike (rectify.mail.claims)
    assert all("ix_outbox_in_flight" in " ".join(plan) for plan in owners + renewal), plans
