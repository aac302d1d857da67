"""The model layer on SQLite and PostgreSQL: constraints, optimistic locking, the audit log."""

from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Base, Event, Finding, OutboxMessage, Person
from rectify.core.lifecycle import TransitionError
from rectify.db import head_revision, migrate
from rectify.services.findings import SYSTEM, Actor, ConflictError, act
from tests.support import factory

NOW = datetime(2024, 1, 20, 1, 0, tzinfo=UTC)


def test_it_has_one_linear_migration_head(rt) -> None:
    from alembic.script import ScriptDirectory

    from rectify.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config(rt.settings.db_url))
    assert len(script.get_heads()) == 1
    assert migrate(rt.engine) == (head_revision(), head_revision())  # already at head: a no-op


def test_it_has_migrations_that_match_the_models(rt) -> None:
    with rt.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []


def test_it_round_trips_dates_and_aware_datetimes(session) -> None:
    u, r = factory.unit(session), factory.round_(session)
    f = factory.finding(session, unit=u, round=r, due=date(2024, 2, 18))
    f.closed_at = datetime(2024, 2, 18, 16, 30, tzinfo=UTC)
    session.commit()
    session.expire_all()
    again = session.get(Finding, f.id)
    assert again.due_date == date(2024, 2, 18)
    assert again.closed_at == datetime(2024, 2, 18, 16, 30, tzinfo=UTC)
    assert again.closed_at.tzinfo is not None


def test_it_refuses_two_findings_with_one_code(session) -> None:
    u, r = factory.unit(session), factory.round_(session)
    factory.finding(session, unit=u, round=r, code="A-1")
    with pytest.raises(IntegrityError):
        factory.finding(session, unit=u, round=r, code="A-1")


def test_it_refuses_a_second_outbox_row_with_the_same_key(session) -> None:
    row = dict(dedupe_key="a@x|2024-01-20|daily", recipient="a@x", kind="daily", day=date(2024, 1, 20),
               subject="s")
    session.add(OutboxMessage(**row))
    session.flush()
    session.add(OutboxMessage(**row))
    with pytest.raises(IntegrityError):
        session.flush()


def test_it_reports_and_verifies_with_an_event_each(session) -> None:
    u, r = factory.unit(session), factory.round_(session)
    f = factory.finding(session, unit=u, round=r)
    sup = Person(name="督导员", email="sup@x", role="supervisor")
    session.add(sup)
    session.flush()
    act(session, f, "report", SYSTEM, NOW, measures="已公开", progress="已完成")
    act(session, f, "verify", Actor.of(sup, "10.0.0.9"), NOW, note="核实无误")
    session.commit()
    events = session.scalars(select(Event).where(Event.finding_id == f.id).order_by(Event.id)).all()
    assert [(e.kind, e.from_state, e.to_state) for e in events] == [
        ("report", "open", "reported"), ("verify", "reported", "closed")]
    assert events[1].actor == "督导员 <sup@x>" and events[1].ip == "10.0.0.9"
    assert f.state == "closed" and f.closed_by_id == sup.id and f.version == 3


def test_it_refuses_a_stale_version(session) -> None:
    u, r = factory.unit(session), factory.round_(session)
    f = factory.finding(session, unit=u, round=r, state="reported")
    seen = f.version
    act(session, f, "verify", SYSTEM, NOW)
    session.commit()
    with pytest.raises(ConflictError):
        act(session, f, "reject", SYSTEM, NOW, note="材料不全", expected_version=seen)


def test_it_catches_a_concurrent_update_at_flush(rt) -> None:
    with rt.sessions() as s:
        u, r = factory.unit(s), factory.round_(s)
        fid = factory.finding(s, unit=u, round=r, state="reported").id
        s.commit()
    with rt.sessions() as a, rt.sessions() as b:
        fa, fb = a.get(Finding, fid), b.get(Finding, fid)
        act(a, fa, "verify", SYSTEM, NOW)
        a.commit()
        with pytest.raises(ConflictError) as exc:
            act(b, fb, "reject", SYSTEM, NOW, note="退回")
        assert exc.value.finding.state == "closed"


def test_it_refuses_an_illegal_action_and_writes_nothing(session) -> None:
    u, r = factory.unit(session), factory.round_(session)
    f = factory.finding(session, unit=u, round=r)
    with pytest.raises(TransitionError):
        act(session, f, "verify", SYSTEM, NOW)
    assert f.state == "open"
    assert session.scalars(select(Event)).all() == []


def test_it_keeps_the_event_log_append_only(session) -> None:
    u, r = factory.unit(session), factory.round_(session)
    f = factory.finding(session, unit=u, round=r)
    ev = act(session, f, "report", SYSTEM, NOW)
    session.commit()
    ev.note = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        session.flush()
