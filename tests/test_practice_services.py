"""Extensions, reassignment, deadline edits, sign-off and 回头看 on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from models import Event, Person
from rectify.core.practice import PracticeError
from rectify.services import practice
from rectify.services.findings import SYSTEM, Actor, act
from tests.support import factory

NOW = datetime(2024, 3, 11, 2, 0, tzinfo=UTC)
TODAY = date(2024, 3, 11)


def kinds(session, finding) -> list[str]:
    return list(session.scalars(select(Event.kind).where(Event.finding_id == finding.id).order_by(Event.id)))


@pytest.fixture
def world(session):
    u, r, g = factory.unit(session), factory.round_(session), factory.group(session)
    f = factory.finding(session, unit=u, round=r, group=g, due=date(2024, 3, 15), level=1)
    return session, u, r, g, f


def test_it_refuses_an_extension_asked_after_the_deadline(world) -> None:
    session, *_, f = world
    with pytest.raises(PracticeError, match="has passed"):
        practice.request_extension(session, f, SYSTEM, NOW, date(2024, 3, 18), proposed=date(2024, 3, 29),
                                   reason="资金未到位", limit=1)
    assert kinds(session, f) == []


def test_it_approves_an_extension_keeping_the_original_deadline(world) -> None:
    session, *_, f = world
    req = practice.request_extension(session, f, SYSTEM, NOW, TODAY, proposed=date(2024, 3, 29),
                                     reason="资金未到位", limit=1)
    practice.decide_extension(session, req, SYSTEM, NOW, TODAY, approve=True, chosen=date(2024, 3, 27))
    session.commit()
    assert (f.due_date, f.original_due_date, f.level, f.extensions_used) == (
        date(2024, 3, 27), date(2024, 3, 15), 0, 1)
    assert kinds(session, f) == ["extension_request", "extension_approved"]
    with pytest.raises(PracticeError, match="used its 1"):
        practice.request_extension(session, f, SYSTEM, NOW, TODAY, proposed=date(2024, 4, 30), reason="再延", limit=1)


def test_it_refuses_an_extension_and_changes_nothing_but_the_log(world) -> None:
    session, *_, f = world
    req = practice.request_extension(session, f, SYSTEM, NOW, TODAY, proposed=date(2024, 3, 29),
                                     reason="资金未到位", limit=1)
    practice.decide_extension(session, req, SYSTEM, NOW, TODAY, approve=False, note="理由不充分")
    session.commit()
    assert (f.due_date, f.level, f.extensions_used) == (date(2024, 3, 15), 1, 0)
    assert practice.extension_refused(session, f.id)
    assert kinds(session, f) == ["extension_request", "extension_refused"]


def test_it_reassigns_with_a_reason_and_flags_the_handover(world) -> None:
    session, u, *_, f = world
    other = factory.unit(session, "县住建局")
    with pytest.raises(PracticeError, match="needs a reason"):
        practice.reassign(session, f, other, SYSTEM, NOW, reason=" ")
    practice.reassign(session, f, other, SYSTEM, NOW, reason="职能划转")
    session.commit()
    assert f.unit_id == other.id and f.handover_pending
    ev = session.scalars(select(Event).where(Event.kind == "reassign")).one()
    assert (ev.data["from_unit"], ev.data["to_unit"]) == (u.name, "县住建局")


def test_it_refuses_a_deadline_edit_without_a_reason(world) -> None:
    session, *_, f = world
    with pytest.raises(PracticeError, match="needs a reason"):
        practice.change_deadline(session, f, date(2024, 4, 1), SYSTEM, NOW, reason="")
    practice.change_deadline(session, f, date(2024, 4, 1), SYSTEM, NOW, reason="市里统一调整")
    assert (f.due_date, f.original_due_date) == (date(2024, 4, 1), date(2024, 3, 15))


def test_it_needs_the_head_sign_off_before_verification_in_a_two_level_round(world) -> None:
    session, u, r, *_, f = world
    r.two_level_closure = True
    leader = session.scalars(select(Person).where(Person.unit_id == u.id, Person.role == "unit_leader")).one()
    act(session, f, "report", SYSTEM, NOW, measures="已整改", progress="已完成")
    with pytest.raises(PracticeError, match="sign-off"):
        act(session, f, "verify", SYSTEM, NOW)
    assert f.state == "reported"
    practice.sign_off(session, f, Actor.of(leader), NOW)
    act(session, f, "verify", SYSTEM, NOW)
    session.commit()
    events = session.scalars(select(Event).where(Event.finding_id == f.id).order_by(Event.id)).all()
    assert [e.kind for e in events] == ["report", "signoff", "verify"]
    assert events[1].actor_id == leader.id


def test_it_reopens_after_a_failed_recheck_counting_a_rebound(world) -> None:
    session, *_, f = world
    act(session, f, "report", SYSTEM, NOW)
    act(session, f, "verify", SYSTEM, NOW)
    with pytest.raises(PracticeError, match="new deadline"):
        practice.reopen(session, f, SYSTEM, NOW, reason="问题反弹", new_due=None)
    practice.reopen(session, f, SYSTEM, NOW, reason="问题反弹", new_due=date(2024, 4, 30))
    session.commit()
    assert (f.state, f.due_date, f.reopen_count, f.closed_at) == ("open", date(2024, 4, 30), 1, None)
    assert kinds(session, f)[-2:] == ["reopen", "deadline_change"]


def test_it_confirms_a_recheck_once(world) -> None:
    session, *_, f = world
    act(session, f, "report", SYSTEM, NOW)
    act(session, f, "verify", SYSTEM, NOW)
    practice.confirm_recheck(session, f, SYSTEM, NOW, note="整改成效巩固")
    assert f.state == "closed" and f.rechecked_at == NOW
    with pytest.raises(PracticeError, match="already"):
        practice.confirm_recheck(session, f, SYSTEM, NOW)
