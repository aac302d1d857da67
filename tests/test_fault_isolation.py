"""One finding that cannot be computed never stops the run, the digest or the ledger (SQLite and PostgreSQL).

The broken row is real data a calendar cannot reach: a due date in 2040, past even the provisional years.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from models import Finding, OutboxMessage, Round, SupervisionGroup, Unit
from rectify.bulletin.digest import build
from rectify.intake.service import run_ledger_export
from rectify.services.daily import run_daily
from tests.support import factory

DAY = date(2024, 1, 31)
NOW = datetime(2024, 1, 31, 0, 30, tzinfo=UTC)


def broken_county(rt) -> tuple[int, int]:
    with rt.sessions() as s, s.begin():
        g, r = factory.group(s, members=1), factory.round_(s)
        u = factory.unit(s, "县财政局")
        ok = factory.finding(s, unit=u, round=r, group=g, due=date(2024, 1, 22), code="OK-1")
        bad = factory.finding(s, unit=u, round=r, group=g, due=date(2040, 6, 1), code="BROKEN-1")
        return ok.id, bad.id


def alerts(rt) -> list[OutboxMessage]:
    with rt.sessions() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "run_alert")))


def test_it_skips_the_broken_row_names_it_and_tells_the_office_once(rt) -> None:
    ok, bad = broken_county(rt)
    report = run_daily(rt, DAY, NOW, send=False)
    assert report.skipped_total == 1 and report.skipped[0]["code"] == "BROKEN-1"
    assert report.skipped[0]["reason"].startswith("due 2040-06-01: the working-day calendar does not know")
    with rt.sessions() as s:
        assert s.get(Finding, ok).level == 4 and s.get(Finding, bad).level == 0  # everyone else goes on
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "daily")) > 0
    sent = alerts(rt)
    assert [m.recipient for m in sent] == ["office@county.example"]
    assert "1个问题无法计算期限" in sent[0].subject

    again = run_daily(rt, DAY, NOW, send=False)  # the same day again: named again, mailed once
    assert again.skipped_total == 1 and len(alerts(rt)) == 1

    from rectify.templating import render

    summary = render("daily/summary.txt", r=again, day=DAY)
    assert "无法计算、已跳过的问题（1个" in summary and "BROKEN-1" in summary
    assert "BROKEN-1" in render("daily/summary.md", r=again, day=DAY)


def test_it_keeps_the_digest_and_the_ledger_working(rt, tmp_path) -> None:
    broken_county(rt)
    with rt.sessions() as s, s.begin():  # one overdue since before the calendar's first year (2004), one in 2040
        f = s.scalars(select(Finding).where(Finding.code == "BROKEN-1")).one()
        f.due_date = f.original_due_date = date(2003, 12, 1)
        s.add(factory.finding(s, unit=s.get(Unit, f.unit_id), round=s.get(Round, f.round_id),
                              group=s.get(SupervisionGroup, f.group_id), due=date(2040, 6, 1), code="BROKEN-2"))
    digest = build(rt, week_of=DAY, today=DAY)
    assert digest.found == 3
    export = run_ledger_export(rt, tmp_path / "台账.xlsx", as_of=DAY)
    assert export.rows == 3
