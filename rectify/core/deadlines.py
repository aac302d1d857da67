"""Deadline rules (整改时限) and the due date they give. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from rectify.core.workcal import WorkCalendar


class DeadlineKind(StrEnum):
    FIXED = "fixed"  # a date: 2024年1月31日前
    IMMEDIATE = "immediate"  # 立行立改: within the configured working days of the finding
    WORKING_DAYS = "working_days"  # N个工作日内, from the inspection date
    CALENDAR_DAYS = "calendar_days"  # N日内 / N天内, from the inspection date
    LONG_TERM = "long_term"  # 长期坚持: no due date; reviewed on a cadence instead


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    kind: DeadlineKind
    due: date | None = None  # FIXED only
    days: int | None = None  # WORKING_DAYS / CALENDAR_DAYS only

    def __post_init__(self) -> None:
        if (self.kind is DeadlineKind.FIXED) != (self.due is not None):
            raise ValueError("a fixed deadline, and only a fixed one, carries a date")
        needs_days = self.kind in (DeadlineKind.WORKING_DAYS, DeadlineKind.CALENDAR_DAYS)
        if needs_days != (self.days is not None):
            raise ValueError(f"a {self.kind} deadline {'needs' if needs_days else 'takes no'} day count")
        if self.days is not None and self.days < 0:
            raise ValueError("a day count cannot be negative")

    @classmethod
    def fixed(cls, due: date) -> DeadlineRule:
        return cls(DeadlineKind.FIXED, due=due)

    @classmethod
    def working_days(cls, n: int) -> DeadlineRule:
        return cls(DeadlineKind.WORKING_DAYS, days=n)

    @classmethod
    def calendar_days(cls, n: int) -> DeadlineRule:
        return cls(DeadlineKind.CALENDAR_DAYS, days=n)

    @classmethod
    def immediate(cls) -> DeadlineRule:
        return cls(DeadlineKind.IMMEDIATE)

    @classmethod
    def long_term(cls) -> DeadlineRule:
        return cls(DeadlineKind.LONG_TERM)


def due_date(rule: DeadlineRule, inspected_on: date, cal: WorkCalendar, immediate_days: int = 3) -> date | None:
    """The due date a rule gives for a finding made on `inspected_on`; None for 长期坚持."""
    match rule.kind:
        case DeadlineKind.FIXED:
            return rule.due
        case DeadlineKind.IMMEDIATE:
            return cal.add_working_days(inspected_on, immediate_days)
        case DeadlineKind.WORKING_DAYS:
            return cal.add_working_days(inspected_on, rule.days or 0)
        case DeadlineKind.CALENDAR_DAYS:
            return inspected_on + timedelta(days=rule.days or 0)
        case DeadlineKind.LONG_TERM:
            return None
    raise AssertionError(rule.kind)  # pragma: no cover
