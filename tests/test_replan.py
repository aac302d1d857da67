"""Re-planning when the 2027 notice arrives (SQLite and PostgreSQL): what moves, what does not, the trail,
the unit told once, and the ladder after the move (nothing twice, earlier caught up, later not early)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Event, Finding, OutboxBody, OutboxMessage, Round, SupervisionGroup, Unit
from rectify.services.calendar import import_notice
from rectify.services.daily import run_daily
from tests.support import factory

NOTICE_2027 = (Path(__file__).parent / "fixtures" / "notices" / "synthetic-notice-2027.txt").read_text("utf-8")
INSPECTED = date(2026, 11, 30)


def at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 0, 30, tzinfo=UTC)


@pytest.fixture
def county(rt):
    with rt.sessions() as s, s.begin():
        g, r = factory.group(s, members=1), factory.round_(s, "2026年第四轮督导", INSPECTED)
        u = factory.unit(s, "县财政局")
        return {"unit": u.id, "group": g.id, "round": r.id}


def add(rt, county, code: str, due: date, kind: str = "working_days", days: int | None = None, **kw) -> int:
    with rt.sessions() as s, s.begin():
        f = factory.finding(s, unit=s.get(Unit, county["unit"]), round=s.get(Round, county["round"]),
                            group=s.get(SupervisionGroup, county["group"]), due=due, inspected=INSPECTED,
                            kind=kind, code=code)
        f.deadline_days, f.deadline_text = days, f"{days}个工作日内" if days else "2027年2月11日前"
        for k, v in kw.items():
            setattr(f, k, v)
        return f.id


def finding(rt, fid: int) -> Finding:
    with rt.sessions() as s:
        return s.get(Finding, fid)


def letters(rt, day: date) -> list[str]:
    with rt.sessions() as s:
        rows = s.scalars(select(OutboxBody.message).join(OutboxMessage, OutboxMessage.id == OutboxBody.id)
                         .where(OutboxMessage.day == day, OutboxMessage.kind == "daily")).all()
    return [message_from_bytes(m, policy=policy.default).get_body(("plain",)).get_content() for m in rows]


def test_it_replans_working_day_deadlines_and_keeps_the_ladder_consistent(rt, county) -> None:
    later = add(rt, county, "LATER", date(2027, 2, 11), days=50)  # provisional: past 春节 (2/5-2/8)
    earlier = add(rt, county, "EARLIER", date(2027, 2, 1), days=44)  # the notice's 调休 Sunday 1/31 helps
    fixed = add(rt, county, "FIXED", date(2027, 2, 11), kind="fixed")
    extended = add(rt, county, "EXTENDED", date(2027, 2, 20), days=50, extensions_used=1,
                   original_due_date=date(2027, 2, 11))

    run_daily(rt, date(2027, 1, 27), at(date(2027, 1, 27)), send=False)  # EARLIER: 3 days ahead → 提醒
    assert finding(rt, earlier).level == 1 and finding(rt, later).level == 0

    result = import_notice(rt, NOTICE_2027, by="test")
    assert {(m.code, m.old, m.new) for m in result.moves} == {
        ("LATER", date(2027, 2, 11), date(2027, 2, 16)), ("EARLIER", date(2027, 2, 1), date(2027, 1, 31))}
    assert finding(rt, later).due_date == date(2027, 2, 16) == finding(rt, later).original_due_date
    assert finding(rt, fixed).due_date == date(2027, 2, 11)  # an explicit date is never touched
    assert finding(rt, extended).due_date == date(2027, 2, 20)  # nor an approved extension
    with rt.sessions() as s:
        trail = {e.finding_id: e for e in s.scalars(select(Event).where(Event.kind == "deadline_replanned"))}
    assert set(trail) == {later, earlier}
    assert trail[later].note == "依据国办发明电〔2026〕99号重新计算整改时限：2027-02-11 → 2027-02-16"

    # Feb 1 (Mon): EARLIER is now 1 working day late → 催办 at once (caught up); LATER escalates nothing;
    # FIXED (Feb 11, now inside the holiday) is 3 working days ahead → 提醒.
    report = run_daily(rt, date(2027, 2, 1), at(date(2027, 2, 1)), send=False)
    assert report.replans == 2 and report.escalations == {"urge": 1, "remind": 1}
    assert finding(rt, earlier).level == 3 and finding(rt, later).level == 0 and finding(rt, fixed).level == 1
    contact = [t for t in letters(rt, date(2027, 2, 1)) if "期限调整" in t]
    assert len(contact) == 1
    assert "依据国办发明电〔2026〕99号，由2027年2月11日调整为2027年2月16日" in contact[0]
    assert "依据国办发明电〔2026〕99号，由2027年2月1日调整为2027年1月31日" in contact[0]

    # Told once: the next run says nothing about the move again.
    report = run_daily(rt, date(2027, 2, 2), at(date(2027, 2, 2)), send=False)
    assert report.replans == 0 and not any("期限调整" in t for t in letters(rt, date(2027, 2, 2)))

    # The old due date (Feb 11) is now inside the holiday: no run, no escalation; LATER is reminded
    # relative to its new date only (Feb 15 is 1 working day before Feb 16: 提醒, not 催办).
    assert run_daily(rt, date(2027, 2, 11), at(date(2027, 2, 11)), send=False).working_day is False
    run_daily(rt, date(2027, 2, 15), at(date(2027, 2, 15)), send=False)
    assert finding(rt, later).level == 1


def test_it_lists_without_storing_on_a_dry_run_and_moves_nothing_when_nothing_changes(rt, county) -> None:
    fid = add(rt, county, "LATER", date(2027, 2, 11), days=50)
    dry = import_notice(rt, NOTICE_2027, dry_run=True)
    assert [m.code for m in dry.moves] == ["LATER"] and finding(rt, fid).due_date == date(2027, 2, 11)
    import_notice(rt, NOTICE_2027)
    again = import_notice(rt, NOTICE_2027)
    assert again.unchanged and again.moves == []
