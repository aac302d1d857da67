"""How the day's plan reads the findings table (SQLite): one pass over the unfinished findings for the ladder,
handovers and 签收/进展 asks, and 回头看 through the partial closed_at index (0008) once the daily run has left
the planner its statistics, instead of every closed row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from models import Person
from rectify.db import refresh_statistics
from rectify.services.daily import plan, run_daily
from tests.support import factory

TODAY = date(2024, 6, 5)
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SQLite's planner (PostgreSQL: its own)


@pytest.fixture
def lite(rt):
    return rt


def _statements(rt, fn) -> list[tuple[str, tuple]]:
    seen: list[tuple[str, tuple]] = []

    def trace(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(rt.engine, "before_cursor_execute", trace)
    try:
        fn()
    finally:
        event.remove(rt.engine, "before_cursor_execute", trace)
    return seen


def _closed_county(rt) -> None:
    """Most findings closed long ago (a county after a few rounds), a few closed on the form lately."""
    with rt.sessions() as s, s.begin():
        unit, rnd, grp = factory.unit(s), factory.round_(s), factory.group(s)
        closer = s.scalars(select(Person.id).where(Person.role == "supervisor")).first()
        for i in range(400):
            f = factory.finding(s, unit=unit, round=rnd, group=grp, state="closed" if i % 10 else "open")
            if f.state == "closed":
                f.closed_at = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=i)
                if i % 50 == 1:
                    f.closed_at, f.closed_by_id = datetime(2024, 5, 20, tzinfo=UTC), closer


def test_it_reads_the_rechecks_through_the_closed_at_index_after_a_run(lite) -> None:
    _closed_county(lite)
    run_daily(lite, TODAY, datetime(2024, 6, 5, 0, 30, tzinfo=UTC), send=False)  # leaves planner statistics
    sql = [(q, p) for q, p in _statements(lite, lambda: plan._rechecks(lite, TODAY)) if "FROM findings" in q]
    assert len(sql) == 1
    query, params = sql[0]
    with lite.engine.connect() as conn:
        shape = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + query, tuple(params)).all()
    assert any("ix_findings_closed_at" in row[-1] for row in shape), shape


def test_it_refreshes_statistics_without_failing_on_an_empty_database(lite) -> None:
    refresh_statistics(lite.engine)
    with lite.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar() == 1


def test_it_plans_handovers_and_asks_from_the_scan_without_reading_the_table_again(lite) -> None:
    sql = [q for q, _ in _statements(lite, lambda: plan.plan_actions(lite, TODAY, plan.Scan()))]
    scans = [q for q in sql if "FROM findings" in q and "findings.handover_pending" in q]
    assert len(scans) == 1  # handovers, 签收, 签收超期, 进展 and missed reports: the scan's own rows
    others = [q for q in sql if q not in scans]  # the scan itself reads a reported finding only when it owes an ask
    assert not any("findings.handover_pending IS" in q or "findings.ack_due_on IS NOT NULL" in q for q in others)
