"""The weekly digest's figures, reconstructed from the findings' own dates. Pure: no I/O, no clock.

No snapshots are stored: any past week can be recomputed from inspected_on (found), closed_at (closed),
reported_at (awaiting verification), due_date (overdue) and the event log's cancel dates. The price is
that history follows the data as it is now: a reopened finding drops its earlier closure, an extension
moves the due date for past weeks too, and a report that was sent back no longer counts as awaiting.

A week runs Monday to Sunday; its figures are taken at the end of its last day, or at `today` for the
current week. "new" and "closed" count what happened within the week; "awaiting", "overdue" and "open"
are the state at that point.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from rectify.bulletin.stats import UnitRow, unit_sort_key
from rectify.core.workcal import WorkCalendar


@dataclass(frozen=True, slots=True)
class DigestRow:
    id: int
    unit_id: int
    state: str
    inspected_on: date
    due_date: date | None = None
    reported_on: date | None = None
    closed_on: date | None = None
    cancelled_on: date | None = None
    problem: str = ""
    code: str = ""


@dataclass(frozen=True, slots=True)
class WeekFigures:
    week_start: date
    as_of: date  # the day the state figures are taken at
    new: int = 0
    closed: int = 0  # closed within the week
    awaiting: int = 0  # reported, waiting for the supervisor's verification
    overdue: int = 0
    open: int = 0  # found and not closed (awaiting included)
    closed_total: int = 0


@dataclass(frozen=True, slots=True)
class UnitRate:
    unit: str
    found: int
    closed: int

    @property
    def rate(self) -> float:
        return 100.0 * self.closed / self.found if self.found else 0.0


@dataclass(frozen=True, slots=True)
class OverdueItem:
    code: str
    unit: str
    problem: str
    due_date: date
    days: int  # working days past the due date


@dataclass
class Digest:
    week_start: date
    week_end: date
    as_of: date
    this: WeekFigures
    last: WeekFigures
    trend: list[WeekFigures]  # oldest first, this week last
    units: list[UnitRate] = field(default_factory=list)
    top_overdue: list[OverdueItem] = field(default_factory=list)
    found: int = 0
    closed: int = 0

    def change(self, name: str) -> int:
        return getattr(self.this, name) - getattr(self.last, name)


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _found(f: DigestRow, t: date) -> bool:
    return f.inspected_on <= t and not (f.cancelled_on is not None and f.cancelled_on <= t)


def _closed(f: DigestRow, t: date) -> bool:
    return f.closed_on is not None and f.closed_on <= t


def _awaiting(f: DigestRow, t: date) -> bool:
    return (f.state in ("reported", "closed") and f.reported_on is not None and f.reported_on <= t
            and not _closed(f, t))


def _overdue(f: DigestRow, t: date) -> bool:
    """As rectify.core.ladder.is_overdue, on the state the finding had at the end of day t."""
    return f.due_date is not None and t > f.due_date and not _closed(f, t) and not _awaiting(f, t)


def figures(rows: Sequence[DigestRow], start: date, today: date) -> WeekFigures:
    t = min(start + timedelta(days=6), today)
    fig = Counter[str]()
    for f in rows:
        if f.state == "cancelled" and f.cancelled_on is None:
            continue  # cancelled with no known date: never counted
        if not _found(f, t):
            continue
        if start <= f.inspected_on:
            fig["new"] += 1
        if _closed(f, t):
            fig["closed_total"] += 1
            if start <= f.closed_on:  # type: ignore[operator]
                fig["closed"] += 1
            continue
        fig["open"] += 1
        if _awaiting(f, t):
            fig["awaiting"] += 1
        elif _overdue(f, t):
            fig["overdue"] += 1
    return WeekFigures(start, t, **fig)


def compute_digest(units: Iterable[UnitRow], rows: Sequence[DigestRow], *, week_of: date, today: date,
                   cal: WorkCalendar, weeks: int = 8, top: int = 10, unit_order: Sequence[str] = ()) -> Digest:
    """This week's figures against last week's, a `weeks`-long trend, completion by unit, the worst overdue."""
    start = week_start(week_of)
    if start > today:
        raise ValueError(f"the week of {week_of} has not started yet (today is {today})")
    trend = [figures(rows, start - timedelta(weeks=k), today) for k in range(weeks - 1, -1, -1)]
    last = trend[-2] if weeks > 1 else figures(rows, start - timedelta(weeks=1), today)
    this = trend[-1]
    t = this.as_of

    by_id = {u.id: u for u in units}
    found: Counter[int] = Counter()
    closed: Counter[int] = Counter()
    overdue: list[DigestRow] = []
    for f in rows:
        if (f.state == "cancelled" and f.cancelled_on is None) or not _found(f, t):
            continue
        found[f.unit_id] += 1
        if _closed(f, t):
            closed[f.unit_id] += 1
        elif _overdue(f, t):
            overdue.append(f)
    ordered = sorted((by_id[i] for i in found if i in by_id), key=unit_sort_key(unit_order))
    overdue.sort(key=lambda f: (f.due_date, f.id))
    return Digest(
        week_start=start, week_end=start + timedelta(days=6), as_of=t, this=this, last=last, trend=trend,
        units=[UnitRate(u.name, found[u.id], closed[u.id]) for u in ordered],
        top_overdue=[OverdueItem(f.code, by_id[f.unit_id].name if f.unit_id in by_id else "", f.problem,
                                 f.due_date, cal.working_days_between(f.due_date, t))  # type: ignore[arg-type]
                     for f in overdue[:top]],
        found=sum(found.values()), closed=sum(closed.values()),
    )
