"""The working-day calendar as an operation: imported notices in the database, show, status, the cliff.

`import_notice` parses the notice (pure, rectify.core.holiday_notice), stores the year and re-plans the
deadlines computed on it provisionally (rectify.services.replan) in one transaction: either the year and
every moved deadline are written, or nothing is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from models import CalendarYear, Finding
from rectify.core.holiday_notice import NoticeSchedule, parse_notice
from rectify.core.lifecycle import State
from rectify.core.workcal import NOTICE, PROVISIONAL, WorkCalendar

if TYPE_CHECKING:
    from rectify.runtime import Runtime
    from rectify.services.replan import Move

FIX_COMMAND = "rectify calendar import 通知.txt"
LIVE_STATES = sorted(s.value for s in State if s not in (State.CLOSED, State.CANCELLED))


def notice_source(document: str) -> str:
    return f"{NOTICE} {document}".strip()


def imported_stamp(engine: Engine) -> object:
    """A cheap fingerprint of the imported years: changes whenever one is imported or replaced."""
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(select(func.count(CalendarYear.id), func.max(CalendarYear.imported_at))).one())
    except DBAPIError as exc:
        return _no_table(exc)


def imported_calendar(engine: Engine) -> WorkCalendar | None:
    """The years imported from notices, or None when there are none (or no schema yet)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(CalendarYear.year, CalendarYear.holidays, CalendarYear.workdays,
                                       CalendarYear.document)).all()
    except DBAPIError as exc:
        return _no_table(exc)
    if not rows:
        return None
    return WorkCalendar(
        [r.year for r in rows],
        [date.fromisoformat(d) for r in rows for d in r.holidays],
        [date.fromisoformat(d) for r in rows for d in r.workdays],
        {r.year: notice_source(r.document) for r in rows},
    )


def _no_table(exc: DBAPIError) -> None:
    """Before `rectify init` there is no table and nothing imported; any other database error is raised."""
    if "calendar_years" not in str(exc.orig):
        raise exc
    return None


def schedule_calendar(schedule: NoticeSchedule) -> WorkCalendar:
    return WorkCalendar([schedule.year], schedule.holidays, schedule.workdays,
                        {schedule.year: notice_source(schedule.document)})


@dataclass
class ImportResult:
    schedule: NoticeSchedule
    dry_run: bool
    replaced: bool  # the year had been imported before (from another or the same notice)
    unchanged: bool  # the same days were already stored: nothing to do
    moves: list[Move] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {**self.schedule.as_json(), "dry_run": self.dry_run, "replaced": self.replaced,
                "unchanged": self.unchanged, "replanned": [m.as_json() for m in self.moves]}


def import_notice(rt: Runtime, text: str, *, dry_run: bool = False, by: str = "") -> ImportResult:
    """Parse and store a notice's year, re-planning working-day deadlines computed on it."""
    from rectify.services.replan import apply_moves, plan_moves

    schedule = parse_notice(text)  # raises NoticeParseError: nothing stored
    now: datetime = rt.now()
    old_cal = rt.refresh_calendar(force=True)
    new_cal = old_cal.merged(schedule_calendar(schedule))
    with rt.sessions() as s:
        row = s.scalars(select(CalendarYear).where(CalendarYear.year == schedule.year)).first()
        unchanged = row is not None and (row.holidays, row.workdays, row.document) == (
            [d.isoformat() for d in schedule.holidays], [d.isoformat() for d in schedule.workdays],
            schedule.document)
        moves = plan_moves(s, old_cal, new_cal, schedule.year, rt.settings.deadlines.immediate_working_days)
        result = ImportResult(schedule, dry_run, row is not None, unchanged, moves)
        if dry_run or unchanged:
            return result
        if row is None:
            row = CalendarYear(year=schedule.year)
            s.add(row)
        row.holidays = [d.isoformat() for d in schedule.holidays]
        row.workdays = [d.isoformat() for d in schedule.workdays]
        row.document, row.imported_at, row.imported_by, row.source_text = schedule.document, now, by, text
        apply_moves(s, moves, schedule.document, now)
        s.commit()
    rt.refresh_calendar(force=True)
    return result


@dataclass(frozen=True)
class YearView:
    year: int
    source: str
    holidays: list[date]
    workdays: list[date]
    imported_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        doc = self.source[len(NOTICE):].strip() if self.source.startswith(NOTICE) else ""
        return {"year": self.year, "holidays": [d.isoformat() for d in self.holidays],
                "workdays": [d.isoformat() for d in self.workdays], "document": doc, "source": self.source}


def show_year(rt: Runtime, year: int) -> YearView:
    from rectify.core.workcal import CalendarError

    cal = rt.refresh_calendar(force=True)
    if year not in cal.years:
        raise CalendarError(f"the calendar has no year {year} (it knows {cal.describe_years()})")
    holidays, workdays = cal.days_of(year)
    return YearView(year, cal.sources[year], holidays, workdays)


@dataclass(frozen=True)
class Status:
    years: dict[int, str]  # year → source
    needed: list[int]  # years the current deadlines (and today) fall in
    provisional_needed: list[int]
    unknown_needed: list[int]

    def as_json(self) -> dict[str, object]:
        return {"years": {str(y): s for y, s in self.years.items()}, "needed": self.needed,
                "provisional_needed": self.provisional_needed, "unknown_needed": self.unknown_needed}


def calendar_status(rt: Runtime, today: date) -> Status:
    cal = rt.refresh_calendar(force=True)
    with rt.engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(Finding.due_date), func.max(Finding.due_date))
                              .where(Finding.state.in_(LIVE_STATES))).one()
    first = min(today.year, lo.year) if lo else today.year
    last = max(today.year, hi.year) if hi else today.year
    needed = list(range(first, last + 1))
    return Status(dict(cal.sources), needed, [y for y in needed if y in cal.provisional],
                  [y for y in needed if y not in cal.years])


def cliff_warning(cal: WorkCalendar, today: date, warn_from: str) -> str | None:
    """One line while a year the county is working in (or, from `warn_from` MM-DD, next year) is provisional."""
    month, day = (int(x) for x in warn_from.split("-"))
    if today.year in cal.provisional or today.year not in cal.years:
        year = today.year
    elif (today.month, today.day) >= (month, day) and (today.year + 1 not in cal.years
                                                       or today.year + 1 in cal.provisional):
        year = today.year + 1
    else:
        return None
    return (f"{year}年尚无国务院办公厅放假安排，{year}年的期限按法定节假日暂定计算（标“暂定”）；"
            f"通知发布后请运行：{FIX_COMMAND}")


def provisional_source(cal: WorkCalendar, year: int) -> bool:
    return cal.sources.get(year) == PROVISIONAL
