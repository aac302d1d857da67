"""Who may see and do what with a finding: one pure policy, plus the same rule as a SQL filter.

The form, the JSON API and the list query all ask here, so "nobody may touch a finding that is not
theirs" is written once. `decide` separates "not yours" (FORBIDDEN → 403) from "yours, but not in
this state" (NOT_NOW → 409: usually someone else acted first).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, false, true

from models import Finding, Person
from rectify.core.lifecycle import Action, State, allowed_actions


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    UNIT_CONTACT = "unit_contact"
    UNIT_LEADER = "unit_leader"


class Do(StrEnum):
    """What a person asks to do: read, the lifecycle actions, and the supervision-practice ones."""

    VIEW = "view"  # the finding page, its history and evidence downloads
    REPORT = Action.REPORT.value
    VERIFY = Action.VERIFY.value
    REJECT = Action.REJECT.value
    CANCEL = Action.CANCEL.value
    EXTEND = "extend"  # 延期申请 (the unit contact asks)
    DECIDE_EXTENSION = "decide_extension"  # approve or refuse a pending 延期申请
    REASSIGN = "reassign"  # move to another owner unit
    DEADLINE = "deadline"  # change the deadline outside an extension, with a reason
    SIGN_OFF = "sign_off"  # the unit head signs the unit's report off (two-level closure)
    RECHECK = "recheck"  # 回头看: confirm the fix held, or reopen
    ACKNOWLEDGE = "acknowledge"  # 签收: the unit acknowledges a new or reassigned finding
    PROGRESS = "progress"  # 阶段性进展: the unit reports progress on long work


class Decision(StrEnum):
    OK = "ok"
    FORBIDDEN = "forbidden"  # not this person's finding, or not their role
    NOT_NOW = "not_now"  # their finding, but its state does not allow the action


@dataclass(frozen=True, slots=True)
class Viewer:
    person_id: int
    role: str
    unit_id: int | None = None
    group_id: int | None = None

    @classmethod
    def of(cls, person: Person) -> Viewer:
        return cls(person.id, person.role, person.unit_id, person.group_id)


@dataclass(frozen=True, slots=True)
class Target:
    unit_id: int
    group_id: int | None
    state: str
    closed_by_id: int | None = None  # 回头看 belongs to whoever closed it

    @classmethod
    def of(cls, finding: Finding) -> Target:
        return cls(finding.unit_id, finding.group_id, finding.state, finding.closed_by_id)


# Which role performs which action, beyond seeing the finding at all.
_ROLE_ACTIONS: dict[str, frozenset[Do]] = {
    Role.ADMIN: frozenset({Do.VIEW, Do.CANCEL, Do.DECIDE_EXTENSION, Do.REASSIGN, Do.DEADLINE, Do.RECHECK}),
    Role.SUPERVISOR: frozenset({Do.VIEW, Do.VERIFY, Do.REJECT, Do.DECIDE_EXTENSION, Do.DEADLINE, Do.RECHECK}),
    Role.UNIT_CONTACT: frozenset({Do.VIEW, Do.REPORT, Do.EXTEND, Do.ACKNOWLEDGE, Do.PROGRESS}),
    Role.UNIT_LEADER: frozenset({Do.VIEW, Do.SIGN_OFF, Do.ACKNOWLEDGE}),
}

_UNFINISHED = frozenset({State.OPEN, State.REJECTED, State.REPORTED})
# The states in which each non-lifecycle action makes sense; the finer rules (before the deadline,
# under the limit, a two-level round, re-check due) are rectify.core.practice's and answer why not.
_PRACTICE_STATES: dict[Do, frozenset[State]] = {
    Do.EXTEND: frozenset({State.OPEN, State.REJECTED}),
    Do.DECIDE_EXTENSION: _UNFINISHED,
    Do.REASSIGN: _UNFINISHED,
    Do.DEADLINE: _UNFINISHED,
    Do.SIGN_OFF: frozenset({State.REPORTED}),
    Do.RECHECK: frozenset({State.CLOSED}),
    Do.ACKNOWLEDGE: _UNFINISHED,
    Do.PROGRESS: frozenset({State.OPEN, State.REJECTED}),
}


def sees(viewer: Viewer, target: Target) -> bool:
    """The finding belongs to the viewer's unit, their supervision group, or they are an admin."""
    match viewer.role:
        case Role.ADMIN:
            return True
        case Role.SUPERVISOR:
            return viewer.group_id is not None and viewer.group_id == target.group_id
        case Role.UNIT_CONTACT | Role.UNIT_LEADER:
            return viewer.unit_id is not None and viewer.unit_id == target.unit_id
        case _:
            return False


def decide(viewer: Viewer, do: Do | str, target: Target) -> Decision:
    do = Do(do)
    if not sees(viewer, target) or do not in _ROLE_ACTIONS.get(viewer.role, frozenset()):
        return Decision.FORBIDDEN
    if do is Do.RECHECK and viewer.role == Role.SUPERVISOR and viewer.person_id != target.closed_by_id:
        return Decision.FORBIDDEN  # 回头看 is the closer's (or an admin's), not the whole group's
    if do is Do.VIEW:
        return Decision.OK
    if do in _PRACTICE_STATES:
        return Decision.OK if State(target.state) in _PRACTICE_STATES[do] else Decision.NOT_NOW
    return Decision.OK if Action(do.value) in allowed_actions(State(target.state)) else Decision.NOT_NOW


def may(viewer: Viewer, do: Do | str, target: Target) -> bool:
    return decide(viewer, do, target) is Decision.OK


def may_see_status(viewer: Viewer) -> bool:
    """The per-unit status page: the command office (admin) and supervisors (over their group)."""
    return viewer.role in (Role.ADMIN, Role.SUPERVISOR)


def visible(viewer: Viewer) -> ColumnElement[bool]:
    """`sees` as a WHERE clause over Finding, for lists and counts. Must agree with `sees`."""
    match viewer.role:
        case Role.ADMIN:
            return true()
        case Role.SUPERVISOR if viewer.group_id is not None:
            return Finding.group_id == viewer.group_id
        case Role.UNIT_CONTACT | Role.UNIT_LEADER if viewer.unit_id is not None:
            return Finding.unit_id == viewer.unit_id
        case _:
            return false()
