"""Lifecycle actions on stored findings: check with the pure state machine, then write state + event.

The form, the JSON API and the demo all go through `act`, so the audit trail is the same whoever acts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import Event, Finding, Person
from models.base import utcnow
from rectify.core.lifecycle import Action, State, Transition, transition
from rectify.core.practice import check_closure


class ConflictError(Exception):
    """The finding changed since the form was loaded (optimistic locking)."""

    def __init__(self, finding: Finding):
        super().__init__(f"finding {finding.code} was changed by someone else (now version {finding.version})")
        self.finding = finding


@dataclass(frozen=True)
class Actor:
    """Who acts: a person, or the system (imports, the daily run)."""

    label: str
    person_id: int | None = None
    ip: str = ""

    @classmethod
    def of(cls, person: Person, ip: str = "") -> Actor:
        return cls(label=f"{person.name} <{person.email}>" if person.email else person.name,
                   person_id=person.id, ip=ip)


SYSTEM = Actor("system")


def record_event(session: Session, finding: Finding, kind: str, actor: Actor, at: datetime, *,
                 note: str = "", from_state: str | None = None, to_state: str | None = None,
                 data: dict[str, Any] | None = None) -> Event:
    ev = Event(finding_id=finding.id, at=at, kind=kind, actor=actor.label, actor_id=actor.person_id,
               ip=actor.ip, from_state=from_state, to_state=to_state, note=note, data=data or {})
    session.add(ev)
    return ev


def _changes(finding: Any, t: Transition, actor: Actor, now: datetime, measures: str | None,
             progress: str | None) -> dict[str, Any]:
    """The columns one transition sets: the same for `act` (ORM) and `act_row` (one UPDATE)."""
    values: dict[str, Any] = {"state": t.to_state.value}
    match t.action:
        case Action.REPORT:
            if measures is not None:
                values["measures"] = measures
            if progress is not None:
                values["progress"] = progress
            values["reported_at"] = now
        case Action.VERIFY:
            values.update(closed_at=now, closed_by_id=actor.person_id,
                          rechecked_at=None, recheck_notified_on=None)  # every closure gets its own 回头看
        case Action.REJECT:  # a new report needs a new sign-off
            values.update(head_signed_at=None, head_signed_by_id=None)
        case Action.REOPEN:
            values.update(closed_at=None, closed_by_id=None, head_signed_at=None, head_signed_by_id=None, level=0,
                          reopen_count=finding.reopen_count + 1)
        case _:
            pass
    return values


def _check(finding: Any, action: Action | str, actor: Actor, now: datetime, note: str,
           expected_version: int | None) -> Transition:
    if expected_version is not None and expected_version != finding.version:
        raise ConflictError(finding)
    t = transition(finding.state, action, actor=actor.label, at=now, note=note)
    if t.action is Action.VERIFY:
        check_closure(two_level=finding.round.two_level_closure, head_signed=finding.head_signed_at is not None)
    return t


def _event_data(t: Transition, version: int, values: dict[str, Any], finding: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"version": version}
    if t.action is Action.REPORT:
        data.update(measures=values.get("measures", finding.measures),
                    progress=values.get("progress", finding.progress))
    return data


def act(session: Session, finding: Finding, action: Action | str, actor: Actor, now: datetime, *,
        note: str = "", expected_version: int | None = None, measures: str | None = None,
        progress: str | None = None) -> Event:
    """Apply one lifecycle action. Raises TransitionError or ConflictError; the caller commits."""
    t = _check(finding, action, actor, now, note, expected_version)
    values = _changes(finding, t, actor, now, measures, progress)
    for column, value in values.items():
        setattr(finding, column, value)
    try:
        session.flush()  # version check happens here: UPDATE ... WHERE version = :seen
    except StaleDataError:
        session.rollback()
        fresh = session.get(Finding, finding.id)
        raise ConflictError(fresh or finding) from None
    return record_event(session, finding, t.action.value, actor, now, note=t.note,
                        from_state=t.from_state.value, to_state=t.to_state.value,
                        data=_event_data(t, finding.version, values, finding))


_FINDINGS = Finding.__table__
# Built once, so SQLAlchemy reuses the compiled form (one per set of columns an action sets): the SET
# clause comes from the parameters' keys; the WHERE is the compare-and-set on the version seen.
_CAS = (_FINDINGS.update().where(_FINDINGS.c.id == bindparam("cas_id"), _FINDINGS.c.version == bindparam("cas_seen"))
        .values(version=bindparam("cas_version")))
_RECORD = Event.__table__.insert()


def act_row(conn: Connection, finding: Any, action: Action | str, actor: Actor, now: datetime, *,
            note: str = "", expected_version: int | None = None, measures: str | None = None,
            progress: str | None = None) -> None:
    """`act` for a finding read as plain columns (web.queries.FindingRow) on a Connection: the same
    checks, the same columns and the same event, written as one compare-and-set UPDATE and one INSERT
    (on PostgreSQL both in one statement, `_cas_with_event`), without the ORM's unit of work (the form's 销号
    under load). ConflictError when the version moved (nothing written); the caller commits."""
    t = _check(finding, action, actor, now, note, expected_version)
    values = _changes(finding, t, actor, now, measures, progress)
    version = finding.version + 1
    cas = {"cas_id": finding.id, "cas_seen": finding.version, "cas_version": version}
    event = {"at": now, "kind": t.action.value, "actor": actor.label, "actor_id": actor.person_id, "ip": actor.ip,
             "from_state": t.from_state.value, "to_state": t.to_state.value, "note": t.note,
             "data": _event_data(t, version, values, finding)}
    if conn.dialect.name == "postgresql":  # one round trip, atomic in or out of a transaction
        # updated_at given, as the ORM's onupdate would set it: SQLAlchemy fills no defaults inside a CTE
        params = {**cas, **{f"new_{k}": v for k, v in values.items()}, "new_updated_at": utcnow(),
                  **{f"ev_{k}": v for k, v in event.items()}}
        if conn.execute(_cas_with_event(tuple(values)), params).first() is None:  # the event's id, if written
            raise ConflictError(finding)
        return
    if conn.execute(_CAS, {**values, **cas}).rowcount != 1:
        raise ConflictError(finding)
    conn.execute(_RECORD, {"finding_id": finding.id, **event})


_EVENTS = Event.__table__
_EVENT_COLUMNS = ("at", "kind", "actor", "actor_id", "ip", "from_state", "to_state", "note", "data")


@functools.cache
def _cas_with_event(columns: tuple[str, ...]) -> Any:
    """PostgreSQL: the compare-and-set and its event as one statement,
    `WITH done AS (UPDATE findings SET … WHERE id = :cas_id AND version = :cas_seen RETURNING id)
    INSERT INTO events (finding_id, …) SELECT id, :ev_at, … FROM done RETURNING id`: the event is written
    exactly when the UPDATE changed the row, in one round trip instead of BEGIN, UPDATE, INSERT and COMMIT (the
    form's 销号 spent most of its time on PostgreSQL waiting for round trips). Built once per set of columns."""
    sets = {c: bindparam(f"new_{c}", type_=_FINDINGS.c[c].type) for c in (*columns, "updated_at")}
    done = (_FINDINGS.update()
            .where(_FINDINGS.c.id == bindparam("cas_id"), _FINDINGS.c.version == bindparam("cas_seen"))
            .values(**sets, version=bindparam("cas_version")).returning(_FINDINGS.c.id).cte("done"))
    row = select(done.c.id, *(bindparam(f"ev_{c}", type_=_EVENTS.c[c].type) for c in _EVENT_COLUMNS))
    return _EVENTS.insert().from_select(["finding_id", *_EVENT_COLUMNS], row).returning(_EVENTS.c.id)


def is_active(finding: Finding) -> bool:
    return finding.state in (State.OPEN, State.REJECTED)
