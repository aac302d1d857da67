"""Provisional years: weekends plus the statutory days of the 2024 amendment, no 调休 guessed."""

from datetime import date

import pytest

from rectify.core.provisional import provisional_through, provisional_year, statutory_days
from rectify.core.workcal import PROVISIONAL, CalendarError, package_calendar


@pytest.mark.parametrize(("year", "expected"), [
    (2027, {"元旦": ["2027-01-01"], "春节": ["2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"],
            "清明节": ["2027-04-05"], "劳动节": ["2027-05-01", "2027-05-02"], "端午节": ["2027-06-09"],
            "中秋节": ["2027-09-15"], "国庆节": ["2027-10-01", "2027-10-02", "2027-10-03"]}),
    (2028, {"元旦": ["2028-01-01"], "春节": ["2028-01-25", "2028-01-26", "2028-01-27", "2028-01-28"],
            "清明节": ["2028-04-04"], "劳动节": ["2028-05-01", "2028-05-02"], "端午节": ["2028-05-28"],
            "中秋节": ["2028-10-03"], "国庆节": ["2028-10-01", "2028-10-02", "2028-10-03"]}),
])
def test_it_gives_the_statutory_days_of_a_year(year: int, expected: dict) -> None:
    got = {k: [d.isoformat() for d in v] for k, v in statutory_days(year).items()}
    assert got == expected


@pytest.mark.parametrize("year", [2025, 2026])
def test_it_agrees_with_the_official_years_on_every_statutory_day(year: int) -> None:
    official = package_calendar()
    for festival, days in statutory_days(year).items():
        for d in days:
            assert not official.is_working_day(d), (festival, d)


def test_it_has_no_make_up_days_and_marks_the_year() -> None:
    cal = provisional_year(2027)
    assert cal.workdays == frozenset() and cal.provisional == {2027}
    assert cal.is_working_day(date(2027, 2, 8)) is False  # Monday, 正月初三
    assert cal.is_working_day(date(2027, 2, 9)) is True  # Tuesday after: no guessed extension
    assert cal.is_working_day(date(2027, 2, 13)) is False  # a plain Saturday


def test_it_extends_the_package_past_its_last_year_and_keeps_official_years() -> None:
    cal = provisional_through(package_calendar(), 5)
    assert cal.sources[2026] == "package" and cal.sources[2027] == PROVISIONAL
    assert max(cal.years) == 2031 and cal.provisional == {2027, 2028, 2029, 2030, 2031}
    assert cal.add_working_days(date(2026, 11, 30), 30) == date(2027, 1, 12)  # 元旦 off, no 调休
    assert cal.provisional_between(date(2026, 11, 30), date(2027, 1, 12))
    assert not cal.provisional_between(date(2026, 1, 1), date(2026, 12, 31))
    with pytest.raises(CalendarError, match="does not know the year 2032"):
        cal.is_working_day(date(2032, 1, 5))
