"""签收 and 进展反馈 services on SQLite and PostgreSQL: the access policy, compare-and-set, the audit trail,
and the due days set where findings arrive (import, reassignment)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from models import Event, Finding, Person, ProgressReport
from rectify.core.followup import FollowupRules
from rectify.core.practice import PracticeError
from rectify.intake import import_findings
from rectify.services import practice
from rectify.services.access import Viewer
from rectify.services.findings import SYSTEM, Actor, ConflictError
from rectify.services.followup import (
    Arrival,
    NotAllowed,
    acknowledge,
    acknowledge_all,
    mark_arrival,
    submit_progress,
    waits_for_ack,
)
from tests.support import factory

RULES = FollowupRules()
ARRIVED = date(2024, 1, 2)
NOW = datetime(2024, 1, 3, 2, tzinfo=UTC)  # 10:00 in Shanghai, Jan 3: the ack due day
TODAY = date(2024, 1, 3)


@pytest.fixture
def county(session, rt):
    u, other = factory.unit(session, "县财政局"), factory.unit(session, "县教育局")
    r, g = factory.round_(session), factory.group(session)
    people = {p.role + ("" if p.unit_id == u.id else "_other"): p
              for p in session.scalars(select(Person).where(Person.unit_id.is_not(None)))}
    fs = [factory.finding(session, unit=u, round=r, group=g, due=due)
          for due in (date(2024, 1, 12), date(2024, 6, 28), None)]
    for f in fs:
        mark_arrival(f, ARRIVED, rt.calendar, RULES)
    theirs = factory.finding(session, unit=other, round=r, group=g)
    mark_arrival(theirs, ARRIVED, rt.calendar, RULES)
    session.commit()
    return {"unit": u, "other": other, "findings": fs, "theirs": theirs, "people": people, "round": r}


def who(p: Person) -> tuple[Viewer, Actor]:
    return Viewer.of(p), Actor.of(p, "10.0.0.7")


def test_it_sets_the_due_days_where_a_finding_arrives(county) -> None:
    near, far, long_term = county["findings"]
    assert [f.ack_due_on for f in county["findings"]] == [date(2024, 1, 3)] * 3
    assert near.progress_due_on is None  # due in 8 working days: the ladder is enough
    assert far.progress_due_on == date(2024, 1, 16) and long_term.progress_due_on == date(2024, 1, 16)
    assert all(waits_for_ack(f) for f in county["findings"])


def test_it_acknowledges_one_finding_with_person_time_and_an_event(session, county) -> None:
    f = county["findings"][0]
    viewer, actor = who(county["people"]["unit_contact"])
    acknowledge(session, f, viewer, actor, NOW, TODAY, expected_version=f.version)
    session.commit()
    assert f.acknowledged_at == NOW and f.acknowledged_by_id == viewer.person_id and not waits_for_ack(f)
    ev = session.scalars(select(Event).where(Event.finding_id == f.id, Event.kind == "acknowledge")).one()
    assert ev.actor_id == viewer.person_id and ev.ip == "10.0.0.7"
    assert ev.data == {"ack_due_on": "2024-01-03", "on_time": True}
    with pytest.raises(PracticeError):  # a second 签收 is refused, nothing written
        acknowledge(session, f, viewer, actor, NOW, TODAY)


def test_it_refuses_a_stale_version_and_other_units_and_supervisors(session, county) -> None:
    f, theirs = county["findings"][0], county["theirs"]
    viewer, actor = who(county["people"]["unit_contact"])
    with pytest.raises(ConflictError):
        acknowledge(session, f, viewer, actor, NOW, TODAY, expected_version=f.version - 1)
    with pytest.raises(NotAllowed):
        acknowledge(session, theirs, viewer, actor, NOW, TODAY)
    sup = session.scalars(select(Person).where(Person.role == "supervisor")).first()
    with pytest.raises(NotAllowed):
        acknowledge(session, f, *who(sup), NOW, TODAY)
    session.rollback()
    assert session.scalars(select(Event).where(Event.kind == "acknowledge")).all() == []


def test_it_acknowledges_all_of_a_units_new_findings_once(session, county) -> None:
    leader = county["people"]["unit_leader"]
    first = county["findings"][0]
    acknowledge(session, first, *who(county["people"]["unit_contact"]), NOW, TODAY)
    session.commit()
    late = datetime(2024, 1, 4, 2, tzinfo=UTC)
    done = acknowledge_all(session, *who(leader), late, date(2024, 1, 4))
    session.commit()
    assert done == sorted(f.id for f in county["findings"][1:])  # not the one already done, not theirs
    events = session.scalars(select(Event).where(Event.kind == "acknowledge").order_by(Event.id)).all()
    assert [e.finding_id for e in events] == [first.id, *done]
    assert [e.data["on_time"] for e in events] == [True, False, False]  # the bulk came a day late
    assert session.get(Finding, county["theirs"].id).acknowledged_at is None
    assert acknowledge_all(session, *who(leader), late, date(2024, 1, 4)) == []  # nothing left: no events


def test_it_takes_a_progress_report_and_moves_the_due_day_on(session, rt, county) -> None:
    far = county["findings"][1]
    viewer, actor = who(county["people"]["unit_contact"])
    with pytest.raises(PracticeError):
        submit_progress(session, far, viewer, actor, NOW, TODAY, rt.calendar, RULES, text="  ")
    report = submit_progress(session, far, viewer, actor, NOW, TODAY, rt.calendar, RULES,
                             text="已完成方案制定<b>", expected_version=far.version)
    session.commit()
    assert (report.due_on, report.on_time, report.text) == (date(2024, 1, 16), True, "已完成方案制定<b>")
    assert far.progress_due_on == date(2024, 1, 17)  # ten working days from the report
    ev = session.scalars(select(Event).where(Event.kind == "progress_report")).one()
    assert ev.data["report"] == report.id and ev.data["next_due_on"] == "2024-01-17"
    with pytest.raises(PracticeError):  # the near one owes nothing
        submit_progress(session, county["findings"][0], viewer, actor, NOW, TODAY, rt.calendar, RULES, text="x")
    with pytest.raises(NotAllowed):  # the leader acknowledges but does not report
        submit_progress(session, far, *who(county["people"]["unit_leader"]), NOW, TODAY, rt.calendar, RULES,
                        text="x")


def test_it_marks_a_late_progress_report_late(session, rt, county) -> None:
    long_term = county["findings"][2]
    late_day = date(2024, 1, 18)
    report = submit_progress(session, long_term, *who(county["people"]["unit_contact"]),
                             datetime(2024, 1, 18, 2, tzinfo=UTC), late_day, rt.calendar, RULES, text="推进中")
    session.commit()
    assert not report.on_time and report.due_on == date(2024, 1, 16)
    assert session.scalars(select(ProgressReport)).one().on_time is False


def test_it_asks_the_new_unit_for_a_fresh_ack_after_reassignment(session, rt, county) -> None:
    f = county["findings"][1]
    acknowledge(session, f, *who(county["people"]["unit_contact"]), NOW, TODAY)
    session.commit()
    practice.reassign(session, f, county["other"], SYSTEM, NOW, reason="职责调整",
                      arrive=Arrival(date(2024, 1, 5), rt.calendar, RULES))
    session.commit()
    assert f.acknowledged_at is None and f.ack_due_on == date(2024, 1, 8) and waits_for_ack(f)
    assert f.progress_due_on == date(2024, 1, 19)


def test_it_sets_ack_and_progress_due_days_on_import(session, rt, tmp_path) -> None:
    factory.unit(session, "县财政局")
    session.commit()
    wb = Workbook()
    ws = wb.active
    ws.append(["督导轮次", "督导日期", "责任单位", "问题描述", "整改时限"])
    ws.append(["2024年第一轮", "2024-01-02", "县财政局", "问题一", "2024-06-28"])
    ws.append(["2024年第一轮", "2024-01-02", "县财政局", "问题二", "立行立改"])
    wb.save(tmp_path / "f.xlsx")
    import_findings(session, tmp_path / "f.xlsx", calendar=rt.calendar, now=NOW, followup=RULES, today=TODAY)
    session.commit()
    got = {f.problem: (f.ack_due_on, f.progress_due_on) for f in session.scalars(select(Finding))}
    assert got == {"问题一": (date(2024, 1, 4), date(2024, 1, 17)), "问题二": (date(2024, 1, 4), None)}


def test_it_asks_for_a_new_ack_when_a_reimport_moves_a_finding(session, rt, tmp_path) -> None:
    factory.unit(session, "县财政局"), factory.unit(session, "县教育局")
    session.commit()

    def sheet(unit: str):
        wb = Workbook()
        wb.active.append(["编号", "督导轮次", "督导日期", "责任单位", "问题描述", "整改时限"])
        wb.active.append(["Q-1", "2024年第一轮", "2024-01-02", unit, "问题一", "2024-06-28"])
        wb.save(tmp_path / f"{unit}.xlsx")
        return tmp_path / f"{unit}.xlsx"

    import_findings(session, sheet("县财政局"), calendar=rt.calendar, now=NOW, followup=RULES, today=TODAY)
    session.commit()
    f = session.scalars(select(Finding)).one()
    contact = session.scalars(select(Person).where(Person.unit_id == f.unit_id, Person.role == "unit_contact")).one()
    acknowledge(session, f, *who(contact), NOW, TODAY)
    session.commit()
    later = date(2024, 1, 8)
    import_findings(session, sheet("县教育局"), calendar=rt.calendar, now=NOW, followup=RULES, today=later)
    session.commit()
    session.refresh(f)
    assert f.unit.name == "县教育局" and f.acknowledged_at is None and f.ack_due_on == date(2024, 1, 9)
