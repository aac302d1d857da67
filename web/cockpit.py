"""The 驾驶舱's figures, all scoped by the one access policy (rectify.services.access.visible).

A handful of queries whatever the county's size: counts by unit and state (web.queries.unit_status), by
group, the open findings' colours, the digest rows for the 12-week trend, and the 考评 ranking. The last
daily run comes from Rectify's own run record (a JSON file), the calendar status from the runtime calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from models import Finding, SupervisionGroup
from rectify.bulletin.digest import load_rows
from rectify.bulletin.weekly import WeekFigures, figures, week_start
from rectify.core.lifecycle import ACTIVE, State
from rectify.core.palette import COLOURS
from rectify.runtime import Runtime
from rectify.services import runrecord
from rectify.services.access import Viewer, visible
from rectify.services.assessment import Assessment, assess, period
from rectify.services.colours import palette, refused_extension_ids
from web.queries import UnitStatus, _awaiting_ack, unit_status
from web.supervision import colour_of

WEEKS = 12


@dataclass(frozen=True)
class GroupLine:
    group_id: int | None
    name: str
    total: int
    cancelled: int
    closed: int
    overdue: int

    @property
    def counted(self) -> int:
        return self.total - self.cancelled


@dataclass(frozen=True)
class CalendarStatus:
    years: str  # the years with an official schedule: 2004–2026
    provisional: list[int]  # years the open deadlines need that are only provisional (暂定)
    unknown: list[int]  # years they need that the calendar cannot count at all
    warning: str = ""  # the cliff warning (rectify.services.calendar.cliff_warning)


@dataclass
class Cockpit:
    today: date
    units: list[UnitStatus]
    groups: list[GroupLine]
    by_state: dict[str, int]
    overdue: int
    finding_colours: dict[str, int]  # open findings by 蓝/黄/红
    unit_colours: dict[str, int]  # units by their colour
    trend: list[WeekFigures]
    assessment: Assessment
    calendar: CalendarStatus
    awaiting_ack: int = 0  # 待签收 (web.queries' ack filter)
    last_run: dict[str, Any] | None = None
    unit_colour: dict[int, str | None] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def counted(self) -> int:
        return self.total - self.by_state.get(State.CANCELLED, 0)

    @property
    def closed(self) -> int:
        return self.by_state.get(State.CLOSED, 0)


def group_lines(s: Session, viewer: Viewer, today: date) -> list[GroupLine]:
    late = and_(Finding.state.in_([st.value for st in ACTIVE]), Finding.due_date < today)
    q = (select(Finding.group_id, SupervisionGroup.name, func.count(),
                func.sum(case((Finding.state == State.CANCELLED, 1), else_=0)),
                func.sum(case((Finding.state == State.CLOSED, 1), else_=0)), func.sum(case((late, 1), else_=0)))
         .outerjoin(SupervisionGroup, SupervisionGroup.id == Finding.group_id).where(visible(viewer))
         .group_by(Finding.group_id, SupervisionGroup.name).order_by(Finding.group_id.is_(None), Finding.group_id))
    return [GroupLine(gid, name or "", n, int(c or 0), int(d or 0), int(o or 0))
            for gid, name, n, c, d, o in s.execute(q)]


def _colours(s: Session, viewer: Viewer, rt: Runtime, today: date) -> tuple[dict[str, int], dict[int, str | None]]:
    p = palette(rt, today)
    rows = s.execute(select(Finding.id, Finding.unit_id, Finding.state, Finding.due_date, Finding.level)
                     .where(visible(viewer), Finding.state.in_([st.value for st in ACTIVE]))).all()
    refused = refused_extension_ids(s) if rows else set()
    pairs = [(r.unit_id, colour_of(p, state=r.state, due=r.due_date, level=r.level, refused=r.id in refused))
             for r in rows]
    counts = {c: sum(1 for _, colour in pairs if colour == c) for c in COLOURS}
    return counts, p.units(pairs)  # type: ignore[return-value]


def _trend(s: Session, viewer: Viewer, rt: Runtime, today: date) -> list[WeekFigures]:
    mine = set(s.scalars(select(Finding.id).where(visible(viewer))))
    _, rows = load_rows(s, rt.settings.timezone)
    rows = [r for r in rows if r.id in mine]
    start = week_start(today)
    return [figures(rows, start - timedelta(weeks=k), today) for k in range(WEEKS - 1, -1, -1)]


def _ranges(years: list[int]) -> str:
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def calendar_status(rt: Runtime, today: date) -> CalendarStatus:
    """What the calendar service (issue 11) says: official years, the years open deadlines need that are
    provisional or unknown, and the one-line warning the status page and the digest also show."""
    from rectify.services.calendar import calendar_status as status
    from rectify.services.calendar import cliff_warning

    st = status(rt, today)
    cal = rt.refresh_calendar()
    return CalendarStatus(_ranges([y for y in st.years if y not in cal.provisional]), st.provisional_needed,
                          st.unknown_needed, cliff_warning(cal, today, rt.settings.calendar.warn_from) or "")


def build(s: Session, rt: Runtime, viewer: Viewer, today: date) -> Cockpit:
    units = unit_status(s, viewer, today)
    by_state: dict[str, int] = {}
    for u in units:
        for state, n in u.counts.items():
            by_state[state] = by_state.get(state, 0) + n
    finding_colours, unit_colour = _colours(s, viewer, rt, today)
    first, last = period(today, None, rt.settings.assessment.period_days)
    return Cockpit(
        today=today, units=units, groups=group_lines(s, viewer, today), by_state=by_state,
        overdue=sum(u.overdue for u in units), finding_colours=finding_colours,
        unit_colours={c: sum(1 for v in unit_colour.values() if v == c) for c in COLOURS},
        trend=_trend(s, viewer, rt, today),
        assessment=assess(s, start=first, end=last, tz=rt.settings.timezone, cal=rt.calendar, ladder=rt.ladder,
                          weights=rt.settings.assessment.weights(), scope=visible(viewer)),
        calendar=calendar_status(rt, today), last_run=runrecord.last(rt.settings.data_dir), unit_colour=unit_colour,
        awaiting_ack=s.scalar(select(func.count()).select_from(Finding).where(visible(viewer), _awaiting_ack())) or 0,
    )
