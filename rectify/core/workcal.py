"""Mainland China working days: weekends off, statutory holidays off, 调休 make-up days on.

The calendar is plain data (three sets) plus a precomputed running count of working days, so
`working_days_between` and `add_working_days` are O(1): the daily run asks them millions of times.
Each year carries its source (package, notice, holidays file) and may be *provisional*: built from the
statutory rules alone (rectify.core.provisional) because no official schedule exists yet. A year the
calendar does not hold at all is still an error, never a weekends-only guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import pendulum


class CalendarError(ValueError):
    """The calendar cannot answer (unknown year, bad holiday data)."""


def _as_pendulum(d: date) -> pendulum.Date:
    return d if isinstance(d, pendulum.Date) else pendulum.Date(d.year, d.month, d.day)


PACKAGE, HOLIDAYS_FILE, PROVISIONAL = "package", "holidays file", "provisional"  # year sources
NOTICE = "notice"  # a source starting with this is an imported State Council notice: "notice 国办发明电〔2025〕7号"

FIX_HINT = "import the State Council notice with `rectify calendar import FILE` (or add it to 'holidays_file')"


class WorkCalendar:
    def __init__(self, years: Iterable[int], holidays: Iterable[date], workdays: Iterable[date],
                 sources: Mapping[int, str] | None = None):
        self.years = frozenset(years)
        if not self.years:
            raise CalendarError("the calendar knows no year")
        self.sources: dict[int, str] = {y: (sources or {}).get(y, PACKAGE) for y in sorted(self.years)}
        self.provisional = frozenset(y for y, src in self.sources.items() if src == PROVISIONAL)
        self._first_provisional = min(self.provisional, default=10_000)  # O(1) answer for most spans
        self.holidays = frozenset(date(d.year, d.month, d.day) for d in holidays)
        self.workdays = frozenset(date(d.year, d.month, d.day) for d in workdays)
        clash = self.holidays & self.workdays
        if clash:
            raise CalendarError(f"{min(clash)} is listed both as a holiday and as a working day")
        self.first = date(min(self.years), 1, 1)
        self.last = date(max(self.years), 12, 31)
        self._build_index()

    def _build_index(self) -> None:
        # _cum[i]: working days in [first, first + i]; _days[k]: the (k+1)-th working day.
        span = (self.last - self.first).days + 1
        cum: list[int] = []
        days: list[pendulum.Date] = []
        count = 0
        for i in range(span):
            d = self.first + timedelta(days=i)
            if self._is_working(d):
                count += 1
                days.append(pendulum.Date(d.year, d.month, d.day))
            cum.append(count)
        self._cum = cum
        self._days = days

    def _is_working(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def _check(self, d: date) -> None:
        if d.year not in self.years:
            raise CalendarError(
                f"the working-day calendar does not know the year {d.year} "
                f"(it knows {self.describe_years()}); {FIX_HINT}"
            )

    def _check_span(self, a: date, b: date) -> None:
        lo, hi = (a, b) if a <= b else (b, a)
        for year in range(lo.year, hi.year + 1):
            self._check(date(year, 1, 1))

    def describe_years(self) -> str:
        ys = sorted(self.years)
        runs: list[str] = []
        start = prev = ys[0]
        for y in [*ys[1:], None]:
            if y is not None and y == prev + 1:
                prev = y
                continue
            runs.append(str(start) if start == prev else f"{start}–{prev}")
            if y is not None:
                start = prev = y
        return ", ".join(runs)

    def is_working_day(self, d: date) -> bool:
        self._check(d)
        return self._is_working(d)

    def _count_to(self, d: date) -> int:
        return self._cum[(d - self.first).days]

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; negative when b is before a. between(d, add(d, n)) == n."""
        self._check_span(a, b)
        return self._count_to(b) - self._count_to(a)

    def add_working_days(self, d: date, n: int) -> pendulum.Date:
        """The n-th working day after d (before it for n < 0); d itself for n == 0."""
        self._check(d)
        if n == 0:
            return _as_pendulum(d)
        if n > 0:
            index = self._count_to(d) + n - 1
        else:
            before = self._count_to(d) - (1 if self._is_working(d) else 0)
            index = before + n
        if index < 0 or index >= len(self._days):
            raise CalendarError(
                f"{n} working days from {d} leaves the years the calendar knows "
                f"({self.describe_years()}); {FIX_HINT}"
            )
        return self._days[index]

    def next_working_day(self, d: date) -> pendulum.Date:
        """d if it is a working day, else the first working day after it."""
        return _as_pendulum(d) if self.is_working_day(d) else self.add_working_days(d, 1)

    @property
    def official_years(self) -> frozenset[int]:
        return self.years - self.provisional

    def is_provisional(self, d: date) -> bool:
        """True when `d` lies in a year the calendar only knows from the statutory rules."""
        return d.year in self.provisional

    def provisional_between(self, a: date, b: date) -> bool:
        """True when counting working days from a to b crosses a provisional year (a result to mark 暂定)."""
        lo, hi = (a, b) if a <= b else (b, a)
        if hi.year < self._first_provisional:
            return False
        return any(y in self.provisional for y in range(lo.year, hi.year + 1))

    def merged(self, other: WorkCalendar) -> WorkCalendar:
        """This calendar with `other`'s years added; `other` wins for the years it defines."""
        keep = lambda ds: {d for d in ds if d.year not in other.years}  # noqa: E731
        return WorkCalendar(
            self.years | other.years,
            keep(self.holidays) | other.holidays,
            keep(self.workdays) | other.workdays,
            {**self.sources, **other.sources},
        )

    def days_of(self, year: int) -> tuple[list[date], list[date]]:
        """The year's listed days off and 调休 working days, sorted (weekends are implied, not listed)."""
        return (sorted(d for d in self.holidays if d.year == year), sorted(d for d in self.workdays if d.year == year))


def package_calendar() -> WorkCalendar:
    """The years chinese-calendar ships (2004 to its last published year)."""
    from chinese_calendar import constants

    known = {d.year for d in constants.holidays}
    years = range(min(known), max(known) + 1)
    return WorkCalendar(years, constants.holidays, constants.workdays, dict.fromkeys(years, PACKAGE))


_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*(?:\.\.|~|至)\s*(\d{4}-\d{2}-\d{2})\s*$")


def _expand(entry: Any, where: str) -> list[date]:
    text = str(entry)
    try:
        m = _RANGE.match(text)
        if m:
            a, b = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if b < a:
                raise ValueError("range ends before it starts")
            return [a + timedelta(days=i) for i in range((b - a).days + 1)]
        return [entry if isinstance(entry, date) else date.fromisoformat(text.strip())]
    except ValueError as exc:
        raise CalendarError(f"{where}: {text!r} is not a date or a date range ({exc})") from None


def parse_holiday_table(table: Mapping[str, Any], source: str = "holidays",
                        source_label: str = HOLIDAYS_FILE) -> WorkCalendar:
    """Years from a table like {"2027": {"holidays": ["2027-02-05..2027-02-11"], "workdays": [...]}}."""
    years, holidays, workdays = set(), set(), set()
    for key, spec in table.items():
        if not (str(key).isdigit() and len(str(key)) == 4) or not isinstance(spec, Mapping):
            raise CalendarError(f"{source}: [{key}] must be a year table with holidays/workdays lists")
        year = int(key)
        unknown = set(spec) - {"holidays", "workdays"}
        if unknown:
            raise CalendarError(f"{source}: [{key}] has unknown key(s) {', '.join(sorted(unknown))}")
        years.add(year)
        for name, into in (("holidays", holidays), ("workdays", workdays)):
            for entry in spec.get(name, []):
                for d in _expand(entry, f"{source}: [{key}].{name}"):
                    if d.year != year:
                        raise CalendarError(f"{source}: [{key}].{name} lists {d}, outside {year}")
                    into.add(d)
    return WorkCalendar(years, holidays, workdays, dict.fromkeys(years, source_label))
