"""The finding lifecycle as a pure state machine.

open ──report──▶ reported ──verify (销号)──▶ closed ──reopen (回头看)──▶ open
  ▲                 │
  └──── report ── rejected ◀──reject (退回)──┘
open / rejected / reported ──cancel──▶ cancelled

Overdue is never a state: it is derived from the due date and today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class State(StrEnum):
    OPEN = "open"  # 未整改
    REPORTED = "reported"  # 已报送: the unit says it is done
    REJECTED = "rejected"  # 已退回: sent back by the supervisor; behaves as open
    CLOSED = "closed"  # 已销号
    CANCELLED = "cancelled"  # 已撤销


class Action(StrEnum):
    REPORT = "report"
    VERIFY = "verify"
    REJECT = "reject"
    CANCEL = "cancel"
    REOPEN = "reopen"


# States the ladder escalates: the unit still owes work.
ACTIVE = frozenset({State.OPEN, State.REJECTED})

_NEXT: dict[tuple[State, Action], State] = {
    (State.OPEN, Action.REPORT): State.REPORTED,
    (State.REJECTED, Action.REPORT): State.REPORTED,
    (State.REPORTED, Action.VERIFY): State.CLOSED,
    (State.REPORTED, Action.REJECT): State.REJECTED,
    (State.OPEN, Action.CANCEL): State.CANCELLED,
    (State.REJECTED, Action.CANCEL): State.CANCELLED,
    (State.REPORTED, Action.CANCEL): State.CANCELLED,
    (State.CLOSED, Action.REOPEN): State.OPEN,
}

# Actions that must say why.
NEEDS_REASON = frozenset({Action.REJECT, Action.CANCEL, Action.REOPEN})


class TransitionError(ValueError):
    """An action that the finding's state does not allow, or that lacks its reason."""


@dataclass(frozen=True, slots=True)
class Transition:
    """What a transition did; the caller stores it as an audit event."""

    action: Action
    from_state: State
    to_state: State
    actor: str
    at: datetime
    note: str


def allowed_actions(state: State) -> frozenset[Action]:
    return frozenset(a for (s, a) in _NEXT if s == state)


def transition(state: State | str, action: Action | str, *, actor: str, at: datetime, note: str = "") -> Transition:
    state, action = State(state), Action(action)
    target = _NEXT.get((state, action))
    if target is None:
        raise TransitionError(f"cannot {action.value} a finding that is {state.value}")
    if action in NEEDS_REASON and not note.strip():
        raise TransitionError(f"{action.value} needs a reason")
    if at.tzinfo is None:
        raise TransitionError("transition time must be timezone-aware")
    return Transition(action, state, target, actor, at, note.strip())
