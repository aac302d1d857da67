"""Supervision practice rules: extensions (延期), deadline edits, two-level closure, 回头看. Pure."""

from __future__ import annotations

from datetime import date

from rectify.core.lifecycle import ACTIVE, State
from rectify.core.workcal import WorkCalendar


class PracticeError(ValueError):
    """An action the office's rules do not allow; the message says why."""


def check_extension_request(*, state: str, due: date | None, today: date, used: int, limit: int,
                            proposed: date, reason: str, pending: bool = False) -> None:
    """A unit may ask for more time only before its deadline passes, with a reason and a later date."""
    if state not in ACTIVE:
        raise PracticeError("only an unfinished finding can be extended")
    if due is None:
        raise PracticeError("a long-term finding has no deadline to extend")
    if today > due:
        raise PracticeError(f"the deadline {due} has passed; an extension must be asked before it")
    if pending:
        raise PracticeError("an extension request is already waiting for a decision")
    if used >= limit:
        raise PracticeError(f"this finding has used its {limit} extension(s)")
    if not reason.strip():
        raise PracticeError("an extension request needs a reason")
    if proposed <= due:
        raise PracticeError(f"the proposed date must be after the current deadline {due}")


def check_extension_decision(*, approve: bool, proposed: date, chosen: date | None, today: date,
                             reason: str) -> date | None:
    """The new deadline on approval (the supervisor may choose another date), None on refusal."""
    if not approve:
        if not reason.strip():
            raise PracticeError("refusing an extension needs a reason")
        return None
    new_due = chosen or proposed
    if new_due < today:
        raise PracticeError("the approved deadline cannot be in the past")
    return new_due


def check_deadline_edit(*, state: str, old: date | None, new: date | None, reason: str) -> None:
    """Outside an extension a deadline changes only with a reason: nothing changes silently."""
    if state not in (*ACTIVE, State.REPORTED):
        raise PracticeError("the deadline of a finished finding cannot change")
    if old == new:
        raise PracticeError("the new deadline is the same as the current one")
    if not reason.strip():
        raise PracticeError("changing a deadline needs a reason")


def check_closure(*, two_level: bool, head_signed: bool) -> None:
    """Two-level closure: the unit head signs the report off before the supervisor may verify."""
    if two_level and not head_signed:
        raise PracticeError("this round needs the unit head's sign-off before verification")


def recheck_due_on(closed_on: date, cal: WorkCalendar, working_days: int = 30) -> date:
    """回头看: the working day on which the closer re-checks that the fix held."""
    return cal.add_working_days(closed_on, working_days)


def rechecks_due(items: list[tuple[int, str, date | None, date | None]], today: date,
                 cal: WorkCalendar) -> list[int]:
    """Ids of closed findings whose re-check falls due today (or earlier, not yet notified).

    Each item: (id, state, recheck_due_on, recheck_notified_on). Nothing on a day off.
    """
    if not cal.is_working_day(today):
        return []
    return [fid for fid, state, due_on, notified in items
            if state == State.CLOSED and due_on is not None and due_on <= today and notified is None]
