"""签收 and 进展反馈 in the daily run on SQLite and PostgreSQL, mailing through a real SMTP server: the unit's
letter asks for 签收 and due progress reports once, the group hears of 签收超期 once, a missed report is recorded
once, and a second run the same day changes nothing.

2024 calendar: Jan 29 - Feb 2 is a plain Monday-Friday week.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from models import Event, Finding, OutboxMessage, Person
from rectify.core.followup import FollowupRules
from rectify.runtime import build_runtime
from rectify.services.access import Viewer
from rectify.services.daily import run_daily
from rectify.services.findings import Actor
from rectify.services.followup import acknowledge, mark_arrival, submit_progress
from tests.test_daily_run import add, build_county, count

RULES = FollowupRules()


@pytest.fixture
def mail_rt(smtp_settings):
    runtime = build_runtime(smtp_settings)
    yield runtime
    runtime.close()


def at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 0, 30, tzinfo=UTC)


def arrive(rt, fid: int, day: date) -> None:
    with rt.sessions() as s, s.begin():
        mark_arrival(s.get(Finding, fid), day, rt.calendar, RULES)


def texts(sink) -> dict[str, list[tuple[str, str]]]:
    return {to: [(str(m["Subject"]), m.get_body(("plain",)).get_content()) for m in msgs]
            for to, msgs in sink.by_recipient().items()}


def test_it_asks_the_unit_for_ack_once_then_tells_the_group_once(mail_rt, smtp_sink) -> None:
    county = build_county(mail_rt)
    new = add(mail_rt, county, "fin", date(2024, 3, 29))
    arrive(mail_rt, new, date(2024, 1, 29))  # 签收 due Jan 30
    first = run_daily(mail_rt, date(2024, 1, 29), at(date(2024, 1, 29)))
    assert first.acks == 1 and first.ack_overdue == 0
    got = texts(smtp_sink)
    subject, body = got["zhang@fin.example"][0]
    assert subject == "【待签收】县财政局：1项整改任务已交办本单位，请及时签收"
    assert "签收事项" in body and "请于1月30日前签收" in body
    assert "sun@group.example" not in got  # the group hears nothing while the unit still has time

    smtp_sink.received.clear()
    second = run_daily(mail_rt, date(2024, 1, 30), at(date(2024, 1, 30)))
    assert second.acks == 0 and second.messages == 0  # asked once per due day

    third = run_daily(mail_rt, date(2024, 1, 31), at(date(2024, 1, 31)))
    assert third.ack_overdue == 1
    got = texts(smtp_sink)
    assert set(got) == {"sun@group.example", "zhou@group.example"}
    subject, body = got["sun@group.example"][0]
    assert "签收超期" in subject and "县财政局" in body and "尚未签收" in body
    assert "请督促相关单位及时签收" in body and "及时核实销号" not in body
    with mail_rt.sessions() as s:
        assert s.get(Finding, new).ack_overdue_notified_on == date(2024, 1, 31)
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.finding_id == new).order_by(Event.id))]
    assert kinds == ["ack_request", "ack_overdue"]
    assert run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1))).ack_overdue == 0  # once


def test_it_stops_asking_once_acknowledged(mail_rt, smtp_sink) -> None:
    county = build_county(mail_rt)
    fid = add(mail_rt, county, "fin", date(2024, 3, 29))
    arrive(mail_rt, fid, date(2024, 1, 29))
    with mail_rt.sessions() as s, s.begin():
        p = s.get(Person, county["fin_contact"])
        acknowledge(s, s.get(Finding, fid), Viewer.of(p), Actor.of(p), at(date(2024, 1, 29)), date(2024, 1, 29))
    assert run_daily(mail_rt, date(2024, 1, 31), at(date(2024, 1, 31))).messages == 0


def test_it_lists_a_due_progress_report_and_records_a_missed_one_once(mail_rt, smtp_sink) -> None:
    county = build_county(mail_rt)
    due_report = add(mail_rt, county, "edu", date(2024, 6, 28))
    missed = add(mail_rt, county, "fin", None, kind="long_term")
    with mail_rt.sessions() as s, s.begin():
        for fid, due_on in ((due_report, date(2024, 1, 31)), (missed, date(2024, 1, 26))):
            s.get(Finding, fid).progress_due_on = due_on  # ack not needed: these came before 签收 existed
    report = run_daily(mail_rt, date(2024, 1, 29), at(date(2024, 1, 29)))
    assert report.progress_requests == 1 and report.progress_missed == 1
    subject, body = texts(smtp_sink)["li@edu.example"][0]
    assert subject == "【进展反馈】县教育局：1项整改任务请报送阶段性整改进展"
    assert "进展反馈事项" in body and "请于1月31日前报送进展" in body
    with mail_rt.sessions() as s:
        f = s.get(Finding, missed)
        assert f.progress_due_on == date(2024, 2, 9)  # ten working days on, counting the 调休 Sunday Feb 4
        ev = s.scalars(select(Event).where(Event.kind == "progress_missed")).one()
        assert ev.finding_id == missed and ev.data["due_on"] == "2024-01-26"
    again = run_daily(mail_rt, date(2024, 1, 29), at(date(2024, 1, 29)).replace(hour=3))
    assert (again.progress_requests, again.progress_missed, again.messages) == (0, 0, 0)
    assert count(mail_rt, Event, Event.kind == "progress_missed") == 1
    assert count(mail_rt, OutboxMessage) == 1


def test_it_takes_the_report_and_asks_for_the_next_one_only(mail_rt, smtp_sink) -> None:
    county = build_county(mail_rt)
    fid = add(mail_rt, county, "edu", date(2024, 6, 28))
    with mail_rt.sessions() as s, s.begin():
        s.get(Finding, fid).progress_due_on = date(2024, 1, 31)
        p = s.get(Person, county["edu_contact"])
        submit_progress(s, s.get(Finding, fid), Viewer.of(p), Actor.of(p), at(date(2024, 1, 29)), date(2024, 1, 29),
                        mail_rt.calendar, RULES, text="已制定方案")
    report = run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1)))
    assert (report.progress_requests, report.progress_missed) == (0, 0)  # answered: the next is due Feb 9
    with mail_rt.sessions() as s:
        assert s.get(Finding, fid).progress_due_on == date(2024, 2, 9)
