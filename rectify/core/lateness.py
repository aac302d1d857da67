"""Lateness against the original and the current deadline. Pure.

An extension or a deadline change moves `due_date` but never `original_due_date`, so reports can show
both: late against the date in force, and late against the date first set. A finding with no
recorded original (data from before the column existed) counts its current deadline as the original.

A finding is *done* on the day its unit reported the fix that was then verified (the supervisor's
verification may come later and is not the unit's delay); without a report date, on its closing day.
"""

from __future__ import annotations

from datetime import date

from rectify.core.ladder import is_overdue
from rectify.core.lifecycle import ACTIVE
from rectify.core.workcal import WorkCalendar


def original_of(due: date | None, original: date | None) -> date | None:
    """The deadline first set: the stored original, else the current one."""
    return original if original is not None else due


def was_extended(due: date | None, original: date | None) -> bool:
    """True when the deadline in force is not the one first set."""
    return original is not None and due is not None and due != original


def done_on_time(done_on: date | None, due: date | None) -> bool:
    """A finished finding met `due` when done on or before it; one without a deadline always does."""
    return done_on is not None and (due is None or done_on <= due)


def overdue_working_days(cal: WorkCalendar, state: str, due: date | None, as_of: date) -> int | None:
    """Working days past `due` for a finding the unit still owes (0 when not late); None when it owes nothing
    or has no deadline."""
    if due is None or state not in ACTIVE:
        return None
    return cal.working_days_between(due, as_of) if is_overdue(state, due, as_of) else 0
