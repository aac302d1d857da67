"""The escalation ladder (提醒 → 催办 → 督办 → 通报) and the daily planner. Pure.

A finding's `level` is how many ladder steps have fired for it (0: none). Each run fires at
most one step per finding: the highest one its lateness has reached. A finding imported late
therefore jumps straight to that step instead of receiving every lower one at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from rectify.core.lifecycle import ACTIVE
from rectify.core.workcal import WorkCalendar


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    kind: str  # remind / urge / supervise / notify
    offset: int  # working days relative to the due date
    audience: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FindingView:
    """What the planner needs of a finding; the flow builds these straight from a bulk query."""

    id: int
    state: str
    due_date: date | None
    level: int = 0
    review_from: date | None = None  # long-term items: last review, else the inspection date


@dataclass(frozen=True, slots=True)
class PlannedAction:
    finding_id: int
    kind: str  # a step's kind, or "review" for a long-term item
    level: int  # the level the finding reaches (unchanged for reviews)
    step: Step | None
    days: int | None  # working days relative to the due date: -2 = two left, 3 = three overdue


def steps_from(config_steps: Iterable[object]) -> tuple[Step, ...]:
    """Ladder steps from settings objects (anything with key/kind/offset/audience)."""
    steps = tuple(
        Step(s.key, s.kind, s.offset, tuple(s.audience))  # type: ignore[attr-defined]
        for s in config_steps
    )
    offsets = [s.offset for s in steps]
    if offsets != sorted(set(offsets)):
        raise ValueError("ladder offsets must be strictly increasing")
    return steps


def relative_days(cal: WorkCalendar, due: date, today: date) -> int:
    """Working days from the due date to today: negative before it, 0 on it, positive when late."""
    return cal.working_days_between(due, today)


def reached_level(days: int, ladder: Sequence[Step]) -> int:
    """How many steps a finding this late has reached."""
    level = 0
    for i, step in enumerate(ladder, start=1):
        if days >= step.offset:
            level = i
    return level


def plan(
    findings: Iterable[FindingView],
    today: date,
    cal: WorkCalendar,
    ladder: Sequence[Step],
    review_every: int = 20,
    skipped: list[tuple[int, str]] | None = None,
) -> list[PlannedAction]:
    """What must be sent today. Nothing on a day off: the next working day catches up.

    With `skipped` given, a finding that cannot be computed (a date the calendar cannot reach, bad data)
    is left out and noted there as (id, reason) instead of stopping the plan for everyone.
    """
    if not cal.is_working_day(today):
        return []
    days_for: dict[date, int] = {}  # many findings share a due date; ask the calendar once each
    actions: list[PlannedAction] = []
    for f in findings:
        try:
            action = _plan_one(f, today, cal, ladder, review_every, days_for)
        except (ValueError, TypeError, ArithmeticError) as exc:  # CalendarError is a ValueError
            if skipped is None:
                raise
            skipped.append((f.id, f"due {f.due_date or '-'}: {exc or type(exc).__name__}"))
            continue
        if action is not None:
            actions.append(action)
    return actions


def _plan_one(f: FindingView, today: date, cal: WorkCalendar, ladder: Sequence[Step], review_every: int,
              days_for: dict[date, int]) -> PlannedAction | None:
    if f.state not in ACTIVE:
        return None
    if f.due_date is None:
        if f.review_from is not None and cal.working_days_between(f.review_from, today) >= review_every:
            return PlannedAction(f.id, "review", f.level, None, None)
        return None
    days = days_for.get(f.due_date)
    if days is None:
        days = days_for[f.due_date] = relative_days(cal, f.due_date, today)
    level = reached_level(days, ladder)
    if level > f.level:
        step = ladder[level - 1]
        return PlannedAction(f.id, step.kind, level, step, days)
    return None


def is_overdue(state: str, due: date | None, today: date) -> bool:
    """Derived, never stored: a finding the unit still owes, past its due date.

    A reported finding is not overdue: the unit has done its part and waits for verification.
    """
    return due is not None and today > due and state in ACTIVE
