"""签收 (acknowledging receipt) and 进展反馈 (progress reports on long work) as pure date rules.

签收: a finding that is imported or reassigned waits for its unit to acknowledge it by `ack_due_on`, the
`ack_working_days`-th working day after the day it arrived; past that day it is 签收超期 and its group is told.

进展反馈: a finding whose deadline lies more than `progress_threshold` working days after it arrives, and every
长期坚持 item (no deadline), owes a 阶段性进展 every `progress_every` working days. The next due day counts from
the day the last report was made (or the day the finding arrived, or a missed due day); a due day that would
fall on or after the deadline is not set — close to the deadline the escalation ladder takes over.

Working days come from the calendar passed in; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rectify.core.lifecycle import ACTIVE
from rectify.core.workcal import WorkCalendar

PROGRESS_LEAD = 2  # working days before a progress report's due day that the unit's letter asks for it


@dataclass(frozen=True, slots=True)
class FollowupRules:
    """The three settings of `[supervision]` the rules need."""

    ack_working_days: int = 1
    progress_threshold: int = 20
    progress_every: int = 10

    @classmethod
    def of(cls, supervision: object) -> FollowupRules:
        return cls(supervision.ack_working_days,  # type: ignore[attr-defined]
                   supervision.progress_threshold_working_days,  # type: ignore[attr-defined]
                   supervision.progress_every_working_days)  # type: ignore[attr-defined]


def ack_due_on(arrived_on: date, cal: WorkCalendar, working_days: int = 1) -> date:
    """The working day by which a finding that arrived on `arrived_on` must be acknowledged."""
    return cal.add_working_days(arrived_on, working_days)


def ack_overdue(ack_due: date | None, acknowledged: bool, today: date) -> bool:
    """签收超期: still unacknowledged after its due day."""
    return ack_due is not None and not acknowledged and today > ack_due


def ack_on_time(ack_due: date | None, acknowledged_on: date | None) -> bool:
    """签收及时: acknowledged on or before the due day (a finding without a due day never counts)."""
    return ack_due is not None and acknowledged_on is not None and acknowledged_on <= ack_due


def owes_progress(due: date | None, arrived_on: date, cal: WorkCalendar, threshold: int = 20) -> bool:
    """长期坚持 items always; others when their deadline is more than `threshold` working days away."""
    if due is None:
        return True
    return due > arrived_on and cal.working_days_between(arrived_on, due) > threshold


def next_progress_due(after: date, due: date | None, cal: WorkCalendar, every: int = 10) -> date | None:
    """The next 阶段性进展 due day counting from `after`; None when it would not come before the deadline."""
    nxt = cal.add_working_days(after, every)
    if due is not None and nxt >= due:
        return None
    return date(nxt.year, nxt.month, nxt.day)


def first_progress_due(due: date | None, arrived_on: date, cal: WorkCalendar,
                       rules: FollowupRules = FollowupRules()) -> date | None:
    """The progress due day set when a finding arrives (import, reassignment, re-import of a new deadline)."""
    if not owes_progress(due, arrived_on, cal, rules.progress_threshold):
        return None
    return next_progress_due(arrived_on, due, cal, rules.progress_every)


def progress_on_time(made_on: date, due_on: date) -> bool:
    return made_on <= due_on


def progress_requested_today(state: str, due_on: date | None, today: date, cal: WorkCalendar,
                             lead: int = PROGRESS_LEAD) -> bool:
    """Whether a progress report falls within its asking window today (lead working days up to the due day)."""
    if state not in ACTIVE or due_on is None or today > due_on:
        return False
    return cal.working_days_between(today, due_on) <= lead


def progress_missed(state: str, due_on: date | None, today: date) -> bool:
    """A due report not made by its due day: the daily run records it once and moves the due day on."""
    return state in ACTIVE and due_on is not None and today > due_on


def rate(hits: int, total: int) -> float | None:
    """A rate in [0, 1]; None when there is nothing to count (shown as —, never as 0 %)."""
    return hits / total if total else None
