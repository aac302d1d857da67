"""Lifecycle actions on stored findings: check with the pure state machine, then write state + event.

The form, the JSON API and the demo all go through `act`, so the audit trail is the same whoever acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import Event, Finding, Person
from rectify.core.lifecycle import Action, State, transition
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


def act(session: Session, finding: Finding, action: Action | str, actor: Actor, now: datetime, *,
        note: str = "", expected_version: int | None = None, measures: str | None = None,
        progress: str | None = None) -> Event:
    """Apply one lifecycle action. Raises TransitionError or ConflictError; the caller commits."""
    if expected_version is not None and expected_version != finding.version:
        raise ConflictError(finding)
    t = transition(finding.state, action, actor=actor.label, at=now, note=note)
    if t.action is Action.VERIFY:
        check_closure(two_level=finding.round.two_level_closure, head_signed=finding.head_signed_at is not None)
    finding.state = t.to_state.value
    match t.action:
        case Action.REPORT:
            if measures is not None:
                finding.measures = measures
            if progress is not None:
                finding.progress = progress
            finding.reported_at = now
        case Action.VERIFY:
            finding.closed_at = now
            finding.closed_by_id = actor.person_id
            finding.rechecked_at = None  # every closure gets its own 回头看
            finding.recheck_notified_on = None
        case Action.REJECT:
            finding.head_signed_at = None  # a new report needs a new sign-off
            finding.head_signed_by_id = None
        case Action.REOPEN:
            finding.closed_at = None
            finding.closed_by_id = None
            finding.head_signed_at = None
            finding.head_signed_by_id = None
            finding.level = 0
            finding.reopen_count += 1
        case _:
            pass
    try:
        session.flush()  # version check happens here: UPDATE ... WHERE version = :seen
    except StaleDataError:
        session.rollback()
        fresh = session.get(Finding, finding.id)
        raise ConflictError(fresh or finding) from None
    data = {"version": finding.version}
    if t.action is Action.REPORT:
        data.update(measures=finding.measures, progress=finding.progress)
    return record_event(session, finding, t.action.value, actor, now, note=t.note,
                        from_state=t.from_state.value, to_state=t.to_state.value, data=data)


def is_active(finding: Finding) -> bool:
    return finding.state in (State.OPEN, State.REJECTED)
