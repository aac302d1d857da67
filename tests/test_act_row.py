"""services.findings.act_row (the form's 销号/退回 without the ORM) writes exactly what act() writes, refuses
what act() refuses, and the access policy decides the same on a FindingRow as on a Finding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from models import Event, Finding, Person
from rectify.core.lifecycle import Action, TransitionError
from rectify.core.practice import PracticeError
from rectify.db import reading
from rectify.services.access import Do, Target, Viewer, decide
from rectify.services.findings import Actor, ConflictError, act, act_row
from tests.support import factory
from web.queries import load_page, load_row

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SIGNED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SKIP = {"id", "code", "created_at", "updated_at"}


def _pair(s, state: str, **columns):
    u, g, r = factory.unit(s), factory.group(s), factory.round_(s)
    pair = [factory.finding(s, unit=u, round=r, group=g, state=state) for _ in range(2)]
    for f in pair:
        for k, v in columns.items():
            setattr(f, k, v)
    s.commit()
    sup = s.scalar(select(Person).where(Person.group_id == g.id))
    return pair, Actor.of(sup, "10.0.0.7")


def _columns(f: Finding) -> dict:
    return {c.key: getattr(f, c.key) for c in Finding.__table__.columns if c.key not in SKIP}


def _events(s, fid: int) -> list[tuple]:
    return [(e.kind, e.actor, e.actor_id, e.ip, e.from_state, e.to_state, e.note, e.data, e.at)
            for e in s.scalars(select(Event).where(Event.finding_id == fid).order_by(Event.id))]


CASES = [
    (Action.VERIFY, "reported", {}, {"note": "核实无误"}),
    (Action.REJECT, "reported", {"head_signed_at": SIGNED}, {"note": "佐证材料不全"}),
    (Action.REPORT, "open", {}, {"measures": "已公开", "progress": "已完成"}),
    (Action.REOPEN, "closed", {"closed_at": SIGNED, "reopen_count": 1, "level": 2}, {"note": "问题反弹"}),
    (Action.CANCEL, "open", {}, {"note": "重复交办"}),
]


# The form's 销号 runs on `reading` (autocommit on PostgreSQL: the write is one statement there); others in a
# transaction. Both must write the same.
OPENERS = {"transaction": lambda engine: engine.connect(), "autocommit": reading}


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("action", "state", "columns", "kw"), CASES, ids=[c[0].value for c in CASES])
def test_it_writes_the_columns_and_event_act_writes(rt, session, action, state, columns, kw, opener) -> None:
    (orm, plain), actor = _pair(session, state, **columns)
    seen = orm.version
    assert plain.version == seen
    act(session, orm, action, actor, NOW, expected_version=seen, **kw)
    session.commit()
    with OPENERS[opener](rt.engine) as conn:
        act_row(conn, load_row(conn, plain.id), action, actor, NOW, expected_version=seen, **kw)
        conn.commit()
    session.expire_all()
    assert _columns(session.get(Finding, plain.id)) == _columns(session.get(Finding, orm.id))
    assert session.get(Finding, plain.id).version == seen + 1
    assert _events(session, plain.id) == _events(session, orm.id) != []


@pytest.mark.parametrize("opener", OPENERS)
def test_it_refuses_a_stale_form_and_writes_nothing(rt, session, opener) -> None:
    (f, _), actor = _pair(session, "reported")
    with OPENERS[opener](rt.engine) as conn:
        with pytest.raises(ConflictError):  # the form showed an older version
            act_row(conn, load_row(conn, f.id), Action.VERIFY, actor, NOW, expected_version=f.version - 1)
        seen = load_row(conn, f.id)
        conn.rollback()
    act(session, f, Action.REJECT, actor, NOW, expected_version=seen.version, note="退回")  # someone else, first
    session.commit()
    with OPENERS[opener](rt.engine) as conn:
        with pytest.raises(ConflictError):  # read before the other's write: the compare-and-set refuses
            act_row(conn, seen, Action.VERIFY, actor, NOW, expected_version=seen.version)
        conn.commit()
    session.expire_all()
    assert session.get(Finding, f.id).state == "rejected"
    assert [e[0] for e in _events(session, f.id)] == ["reject"]


def test_it_refuses_what_the_rules_refuse(rt, session) -> None:
    (f, g), actor = _pair(session, "open")
    f.round.two_level_closure = True
    g.state = "reported"
    session.commit()
    with rt.engine.connect() as conn:
        with pytest.raises(TransitionError):  # nothing reported yet
            act_row(conn, load_row(conn, f.id), Action.VERIFY, actor, NOW, expected_version=f.version)
        with pytest.raises(PracticeError):  # two-level round, the unit head has not signed
            act_row(conn, load_row(conn, g.id), Action.VERIFY, actor, NOW, expected_version=g.version)
        conn.commit()
    assert _events(session, f.id) == _events(session, g.id) == []


@pytest.mark.parametrize("state", ["open", "reported", "rejected", "closed", "cancelled"])
def test_it_decides_the_same_on_a_row_as_on_the_finding(rt, session, state) -> None:
    (f, _), actor = _pair(session, state)
    f.closed_by_id = actor.person_id  # 回头看 is the closer's: the policy reads closed_by_id
    session.commit()
    people = session.scalars(select(Person)).all()
    other = Viewer(10_000, "supervisor", None, f.group_id + 1)
    admin = Viewer(10_001, "admin")
    with rt.engine.connect() as conn:
        row, page = load_row(conn, f.id), load_page(conn, f.id)
    assert page is not None and Target.of(page[0]) == Target.of(row) == Target.of(f)
    for viewer in [*(Viewer.of(p) for p in people), other, admin]:
        for do in Do:
            assert decide(viewer, do, Target.of(row)) == decide(viewer, do, Target.of(f)), (viewer, do)
