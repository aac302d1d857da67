"""The weekly digest's figures, reconstructed from the findings' own dates. Pure: no I/O, no clock.

No snapshots are stored: any past week can be recomputed from inspected_on (found), closed_at (closed),
reported_at (awaiting verification), due_date (overdue) and the event log's cancel dates. The price is
that history follows the data as it is now: a reopened finding drops its earlier closure, an extension
moves the due date for past weeks too, and a report that was sent back no longer counts as awaiting.

A week runs Monday to Sunday; its figures are taken at the end of its last day, or at `today` for the
current week. "new" and "closed" count what happened within the week; "awaiting", "overdue" and "open"
are the state at that point. Overdue is counted against the current deadline and against the original one
(before any extension: `original_due_date`).

Colours (蓝/黄/红, rectify.core.colours) are taken at that point too, with the ladder level the finding has
now (levels are not kept per day). 回头看: a closure's re-check falls due `recheck_working_days` working days
after its closing day; the digest counts those falling due in the week, those confirmed in the week
(`rechecked_at` of a finding still closed), those still unanswered past their day, and lists the findings
reopened in the week (反弹, from the event log).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rectify.bulletin.stats import UnitRow, unit_sort_key
from rectify.config import SupervisionSettings
from rectify.core.assessment import Ranked
from rectify.core.ladder import Step
from rectify.core.lateness import original_of
from rectify.core.lifecycle import ACTIVE
from rectify.core.palette import COLOURS, Palette
from rectify.core.workcal import CalendarError, WorkCalendar


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
    original_due: date | None = None  # before any extension; None: the same as due_date
    extensions: int = 0  # approved extensions
    level: int = 0  # ladder steps fired (as stored now)
    extension_refused: bool = False  # the latest decided extension request was refused
    reopened_on: tuple[date, ...] = ()  # days reopened after 回头看 (反弹)
    rechecked_on: date | None = None  # the day 回头看 answered (confirmed while still closed)


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
    overdue_original: int = 0  # overdue against the original deadline


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
    original_due: date | None = None
    days_original: int = 0  # working days past the original deadline
    provisional: bool = False  # counted across a provisional calendar year (暂定)


@dataclass(frozen=True, slots=True)
class UnitWarning:
    """A unit in red, with how many of its findings are red and yellow."""

    unit: str
    red: int
    yellow: int


@dataclass(frozen=True, slots=True)
class ReopenedItem:
    code: str
    unit: str
    problem: str
    reopened_on: date
    due_date: date | None  # the new deadline


@dataclass
class Rechecks:
    """回头看 in the week: falling due, confirmed, reopened (反弹), and those still unanswered past their day."""

    due: int = 0
    confirmed: int = 0
    pending: int = 0
    reopened: list[ReopenedItem] = field(default_factory=list)


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
    extended: int = 0  # findings with an approved extension
    unit_colours: dict[str, int] = field(default_factory=dict)  # red/yellow/blue → number of units
    red_units: list[UnitWarning] = field(default_factory=list)
    rechecks: Rechecks = field(default_factory=Rechecks)
    # 考评 红黑榜: the five best and the five last units over the assessment period ending at as_of
    ranking_start: date | None = None
    honour: list[Ranked] = field(default_factory=list)
    shame: list[Ranked] = field(default_factory=list)
    # 签收 and 进展反馈 per unit this week (rectify.services.followup_stats.UnitFollowup), set by the digest's edge
    followup: list[Any] = field(default_factory=list)
    provisional: int = 0  # open deadlines resting on a provisional calendar year (暂定)
    calendar_warning: str = ""  # next year has no official schedule yet (set by the service)
    # 签收 and 进展反馈 per unit this week (rectify.services.followup_stats.UnitFollowup), set by the digest's edge
    followup: list[Any] = field(default_factory=list)

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


def _overdue(f: DigestRow, t: date, original: bool = False) -> bool:
    """As rectify.core.ladder.is_overdue, on the state the finding had at the end of day t."""
    due = original_of(f.due_date, f.original_due) if original else f.due_date
    return due is not None and t > due and not _closed(f, t) and not _awaiting(f, t)


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
            continue
        fig["overdue"] += _overdue(f, t)
        fig["overdue_original"] += _overdue(f, t, original=True)
    return WeekFigures(start, t, **fig)


def _colours(rows: Sequence[DigestRow], t: date, palette: Palette, by_id: dict[int, UnitRow],
             order: Sequence[UnitRow]) -> tuple[dict[str, int], list[UnitWarning]]:
    per_unit: dict[int, list[str | None]] = {}
    for f in rows:
        if (f.state == "cancelled" and f.cancelled_on is None) or not _found(f, t) or f.unit_id not in by_id:
            continue
        owed = not _closed(f, t) and not _awaiting(f, t)
        colour = palette.finding(state="open" if owed else "closed", due=f.due_date, level=f.level,
                                 extension_refused=f.extension_refused)
        per_unit.setdefault(f.unit_id, []).append(colour)
    unit_colour = {u: palette.unit(cs) for u, cs in per_unit.items()}
    counts = {c: sum(1 for v in unit_colour.values() if v == c) for c in COLOURS}
    red = [UnitWarning(u.name, per_unit[u.id].count("red"), per_unit[u.id].count("yellow"))
           for u in order if unit_colour.get(u.id) == "red"]
    return counts, red


def _rechecks(rows: Sequence[DigestRow], start: date, end: date, t: date, cal: WorkCalendar, working_days: int,
              names: dict[int, str]) -> Rechecks:
    r = Rechecks()
    due_on: dict[date, date | None] = {}
    for f in rows:
        for day in f.reopened_on:
            if start <= day <= t:
                r.reopened.append(ReopenedItem(f.code, names.get(f.unit_id, ""), f.problem, day, f.due_date))
        if f.state != "closed" or not _closed(f, t):
            continue
        if f.closed_on not in due_on:
            try:
                due_on[f.closed_on] = cal.add_working_days(f.closed_on, working_days)  # type: ignore[index,arg-type]
            except CalendarError:  # next year's holidays not loaded yet: that re-check is not due this year
                due_on[f.closed_on] = None  # type: ignore[index]
        day = due_on[f.closed_on]  # type: ignore[index]
        answered = f.rechecked_on is not None and f.rechecked_on <= t
        if answered and start <= f.rechecked_on:  # type: ignore[operator]
            r.confirmed += 1
        if day is None:
            continue
        r.due += start <= day <= end
        r.pending += day <= t and not answered
    r.reopened.sort(key=lambda i: (i.reopened_on, i.code))
    return r


def compute_digest(units: Iterable[UnitRow], rows: Sequence[DigestRow], *, week_of: date, today: date,
                   cal: WorkCalendar, weeks: int = 8, top: int = 10, unit_order: Sequence[str] = (),
                   ladder: Sequence[Step] = (), supervision: SupervisionSettings | None = None) -> Digest:
    """This week's figures against last week's, a `weeks`-long trend, completion by unit, the worst overdue,
    unit colours (when a ladder is given) and 回头看."""
    start = week_start(week_of)
    if start > today:
        raise ValueError(f"the week of {week_of} has not started yet (today is {today})")
    trend = [figures(rows, start - timedelta(weeks=k), today) for k in range(weeks - 1, -1, -1)]
    last = trend[-2] if weeks > 1 else figures(rows, start - timedelta(weeks=1), today)
    this = trend[-1]
    t = this.as_of

    sv = supervision or SupervisionSettings()
    by_id = {u.id: u for u in units}
    found: Counter[int] = Counter()
    closed: Counter[int] = Counter()
    overdue: list[DigestRow] = []
    extended = 0
    for f in rows:
        if (f.state == "cancelled" and f.cancelled_on is None) or not _found(f, t):
            continue
        found[f.unit_id] += 1
        extended += f.extensions > 0
        if _closed(f, t):
            closed[f.unit_id] += 1
        elif _overdue(f, t):
            overdue.append(f)
    ordered = sorted((by_id[i] for i in found if i in by_id), key=unit_sort_key(unit_order))
    overdue.sort(key=lambda f: (f.due_date, f.id))

    def between(a: date, b: date) -> int | None:
        try:
            return cal.working_days_between(a, b)
        except CalendarError:  # one finding the calendar cannot reach never stops the digest
            return None

    def item(f: DigestRow) -> OverdueItem:
        original = original_of(f.due_date, f.original_due)
        return OverdueItem(f.code, by_id[f.unit_id].name if f.unit_id in by_id else "", f.problem,
                           f.due_date, between(f.due_date, t),  # type: ignore[arg-type]
                           original, between(original, t),  # type: ignore[arg-type]
                           tentative(f.due_date))

    def tentative(due: date | None) -> bool:
        return bool(cal.provisional) and due is not None and (cal.is_provisional(due)
                                                               or cal.provisional_between(due, t))

    d = Digest(
        week_start=start, week_end=start + timedelta(days=6), as_of=t, this=this, last=last, trend=trend,
        units=[UnitRate(u.name, found[u.id], closed[u.id]) for u in ordered],
        top_overdue=[item(f) for f in overdue[:top]],
        found=sum(found.values()), closed=sum(closed.values()), extended=extended,
        rechecks=_rechecks(rows, start, start + timedelta(days=6), t, cal, sv.recheck_working_days,
                           {u.id: u.name for u in by_id.values()}),
        provisional=sum(1 for f in rows if f.state in ACTIVE and tentative(f.due_date)),
    )
    if ladder:
        palette = Palette.from_settings(sv, today=t, cal=cal, ladder=ladder)
        d.unit_colours, d.red_units = _colours(rows, t, palette, by_id, ordered)
    return d
