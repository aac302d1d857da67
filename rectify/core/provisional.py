"""Provisional years: what the law alone says about a year the State Council has not scheduled yet. Pure.

The 全国年节及纪念日放假办法 (as amended in November 2024, in force from 2025) gives every citizen these days
off: 元旦 1 day (1月1日); 春节 4 days (农历除夕 to 正月初三); 清明节 1 day (the 清明 solar term); 劳动节 2 days
(5月1日、2日); 端午节 1 day (农历五月初五); 中秋节 1 day (农历八月十五); 国庆节 3 days (10月1日至3日).

A provisional year is weekends plus exactly those days. No 调休 is guessed: the yearly notice moves weekend
days around in ways no rule predicts, so a provisional year has no make-up working days and every result
computed on it is shown as 暂定 until the notice is imported (then deadlines are re-planned).

Lunar dates and the solar term come from lunar-python (a maintained library), not from a hand-written table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from rectify.core.workcal import PROVISIONAL, CalendarError, WorkCalendar

FIRST_RULE_YEAR = 2025  # the 2024 amendment; earlier years are all official
LAST_RULE_YEAR = 2099  # the range this module promises; beyond it a date is an error, never a guess


def _solar(lunar_year: int, month: int, day: int) -> date:
    from lunar_python import Lunar

    s = Lunar.fromYmd(lunar_year, month, day).getSolar()
    return date(s.getYear(), s.getMonth(), s.getDay())


def qingming(year: int) -> date:
    """The day of the 清明 solar term in `year`."""
    from lunar_python import Solar

    table = Solar.fromYmd(year, 4, 1).getLunar().getJieQiTable()
    s = table["清明"]
    day = date(s.getYear(), s.getMonth(), s.getDay())
    if day.year != year:  # pragma: no cover - the table of the lunar year holding April always has it
        raise CalendarError(f"the 清明 solar term of {year} was not found")
    return day


_KNOWN: dict[int, tuple[tuple[str, tuple[date, ...]], ...]] = {}  # year → its days, computed or remembered


def _statutory(year: int) -> tuple[tuple[str, tuple[date, ...]], ...]:
    got = _KNOWN.get(year)
    if got is None:
        got = _KNOWN[year] = tuple((k, tuple(v)) for k, v in _compute(year).items())
    return got


def statutory_days(year: int) -> dict[str, list[date]]:
    """The statutory days off of `year`, by festival (weekend days included where they fall).

    Kept per process, and between processes by rectify.holiday_cache: lunar-python's astronomy costs
    milliseconds a year, and every process that builds the calendar needs the provisional years.
    """
    return {k: list(v) for k, v in _statutory(year)}


def known_years() -> dict[int, dict[str, list[date]]]:
    """Every year computed or remembered in this process."""
    return {year: {k: list(v) for k, v in days} for year, days in _KNOWN.items()}


def remember(year: int, days: dict[str, list[date]]) -> bool:
    """A year another process computed (kept on disk by rectify.holiday_cache), taken as computed when it
    is in the rules' range, has exactly the festivals, dates within a year of it, and the law's fixed dates;
    False, and nothing kept, otherwise (the year is then computed)."""
    if not FIRST_RULE_YEAR <= year <= LAST_RULE_YEAR or list(days) != list(FESTIVALS):
        return False
    fixed = _fixed(year)
    if any(list(days[k]) != v for k, v in fixed.items()):
        return False
    if not all(days[k] and all(type(d) is date and abs(d.year - year) <= 1 for d in days[k]) for k in days):
        return False
    _KNOWN.setdefault(year, tuple((k, tuple(days[k])) for k in FESTIVALS))
    return True


def _compute(year: int) -> dict[str, list[date]]:
    if not FIRST_RULE_YEAR <= year <= LAST_RULE_YEAR:
        raise CalendarError(f"provisional rules cover {FIRST_RULE_YEAR}–{LAST_RULE_YEAR}, not {year}")
    new_year = _solar(year, 1, 1)  # 正月初一
    fixed = _fixed(year)
    return {
        "元旦": fixed["元旦"],
        "春节": [new_year + timedelta(days=i) for i in range(-1, 3)],  # 除夕 (the day before 初一) to 初三
        "清明节": [qingming(year)],
        "劳动节": fixed["劳动节"],
        "端午节": [_solar(year, 5, 5)],
        "中秋节": [_solar(year, 8, 15)],
        "国庆节": fixed["国庆节"],
    }


FESTIVALS = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")  # _compute's, in its order


def _fixed(year: int) -> dict[str, list[date]]:
    """The festivals on fixed dates of the Gregorian calendar."""
    return {"元旦": [date(year, 1, 1)], "劳动节": [date(year, 5, 1), date(year, 5, 2)],
            "国庆节": [date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)]}


def provisional_year(year: int) -> WorkCalendar:
    """A calendar of one provisional year: weekends plus the statutory days, no 调休."""
    days = {d for ds in statutory_days(year).values() for d in ds}
    return WorkCalendar([year], days, [], {year: PROVISIONAL})


def with_provisional(cal: WorkCalendar, years: Iterable[int]) -> WorkCalendar:
    """`cal` with each of `years` it has no schedule for filled in provisionally (official years win)."""
    missing = sorted(set(years) - cal.years)
    if not missing:
        return cal
    days = {d for y in missing for ds in statutory_days(y).values() for d in ds}
    return WorkCalendar(missing, days, [], dict.fromkeys(missing, PROVISIONAL)).merged(cal)


def provisional_through(cal: WorkCalendar, ahead: int) -> WorkCalendar:
    """`cal` extended with provisional years up to `ahead` years past its last official year."""
    last = max(cal.official_years or cal.years)
    return with_provisional(cal, range(last + 1, min(last + ahead, LAST_RULE_YEAR) + 1))


RULE_KINDS = frozenset({"working_days", "immediate"})  # DeadlineKind values computed in working days


def tentative(cal: WorkCalendar, kind: str, inspected_on: date | None, due: date | None,
              today: date | None = None) -> bool:
    """True when a deadline (or its lateness today) rests on a provisional year: shown as 暂定.

    A working-day rule counted across a provisional year gives a provisional date; any date in a provisional
    year, or a lateness counted across one, is provisional too. Explicit dates in official years are not.
    """
    if not cal.provisional or due is None:
        return False
    if kind in RULE_KINDS and inspected_on is not None and cal.provisional_between(inspected_on, due):
        return True
    return cal.is_provisional(due) or (today is not None and cal.provisional_between(due, today))
