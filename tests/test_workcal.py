"""The working-day calendar: holiday weeks with their 调休 days, O(1) arithmetic, unknown years."""

from datetime import date, timedelta

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rectify.core.workcal import CalendarError, WorkCalendar, package_calendar, parse_holiday_table

CAL = package_calendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # Spring Festival 2024: Feb 10-17 off; Sunday Feb 4 and Sunday Feb 18 are 调休 working days.
        (date(2024, 2, 4), True),
        (date(2024, 2, 9), True),
        (date(2024, 2, 10), False),
        (date(2024, 2, 12), False),  # a Monday inside the holiday
        (date(2024, 2, 17), False),
        (date(2024, 2, 18), True),
        (date(2024, 2, 19), True),
        # Spring Festival 2025: Jan 28 - Feb 4 off; Sunday Jan 26 and Saturday Feb 8 are working days.
        (date(2025, 1, 26), True),
        (date(2025, 1, 27), True),
        (date(2025, 1, 28), False),
        (date(2025, 2, 3), False),
        (date(2025, 2, 4), False),
        (date(2025, 2, 5), True),
        (date(2025, 2, 8), True),
        (date(2025, 2, 9), False),
        # National Day 2025 (with Mid-Autumn): Oct 1-8 off; Sunday Sep 28 and Saturday Oct 11 work.
        (date(2025, 9, 28), True),
        (date(2025, 10, 1), False),
        (date(2025, 10, 8), False),
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),
        (date(2025, 10, 12), False),
        # Plain weekends.
        (date(2024, 1, 13), False),
        (date(2024, 1, 15), True),
    ],
)
def test_it_knows_holiday_weeks_and_make_up_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


def test_it_adds_working_days_across_spring_festival_2024() -> None:
    # Friday Feb 9 + 1 working day skips the whole holiday to the 调休 Sunday Feb 18.
    assert CAL.add_working_days(date(2024, 2, 9), 1) == date(2024, 2, 18)
    assert CAL.add_working_days(date(2024, 2, 9), 2) == date(2024, 2, 19)
    assert CAL.add_working_days(date(2024, 2, 18), -1) == date(2024, 2, 9)


def test_it_counts_make_up_saturday_in_national_day_2025() -> None:
    # Sep 30 (Tue) → Oct 9 (Thu) is 1 working day; Oct 11 (Sat, 调休) is the 3rd.
    assert CAL.working_days_between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert CAL.add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)
    assert CAL.working_days_between(date(2025, 10, 9), date(2025, 9, 30)) == -1


def test_it_returns_pendulum_dates() -> None:
    assert isinstance(CAL.add_working_days(date(2024, 3, 1), 5), pendulum.Date)


def test_it_refuses_a_year_it_does_not_know() -> None:
    with pytest.raises(CalendarError, match="does not know the year 2027"):
        CAL.is_working_day(date(2027, 1, 4))
    with pytest.raises(CalendarError, match="holidays_file"):
        CAL.add_working_days(date(2026, 12, 30), 10)
    with pytest.raises(CalendarError, match="2027"):
        CAL.working_days_between(date(2026, 12, 1), date(2027, 1, 5))


def test_it_extends_to_a_year_from_a_holiday_table() -> None:
    extra = parse_holiday_table({"2027": {"holidays": ["2027-01-01", "2027-02-05..2027-02-11"],
                                          "workdays": ["2027-02-14"]}})
    cal = CAL.merged(extra)
    assert cal.is_working_day(date(2027, 2, 8)) is False  # Monday inside the holiday
    assert cal.is_working_day(date(2027, 2, 14)) is True  # Sunday make-up day
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert cal.describe_years() == "2004–2027"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"2027": {"holidays": ["2027-13-01"]}}, "not a date"),
        ({"2027": {"holidays": ["2028-01-01"]}}, "outside 2027"),
        ({"2027": {"holiday": []}}, "unknown key"),
        ({"next": {"holidays": []}}, "must be a year table"),
        ({"2027": {"holidays": ["2027-02-14"], "workdays": ["2027-02-14"]}}, "both as a holiday"),
        ({"2027": {"holidays": ["2027-02-11..2027-02-05"]}}, "ends before it starts"),
    ],
)
def test_it_names_what_is_wrong_in_a_holiday_table(table: dict, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        parse_holiday_table(table)


def test_it_refuses_gap_years_between_known_ones() -> None:
    cal = WorkCalendar([2024, 2026], [], [])
    with pytest.raises(CalendarError, match="2025"):
        cal.working_days_between(date(2024, 12, 1), date(2026, 1, 5))


days = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 6, 30))


@given(d=days, n=st.integers(min_value=1, max_value=120))
def test_it_counts_back_what_it_added(d: date, n: int) -> None:
    later = CAL.add_working_days(d, n)
    assert CAL.working_days_between(d, later) == n
    assert CAL.is_working_day(later)
    assert later > d


@given(d=st.dates(min_value=date(2004, 7, 1), max_value=date(2026, 12, 31)), n=st.integers(min_value=1, max_value=120))
def test_it_counts_back_what_it_subtracted(d: date, n: int) -> None:
    earlier = CAL.add_working_days(d, -n)
    assert CAL.is_working_day(earlier)
    assert earlier < d
    # n-1 working days lie strictly between them, plus d itself when d is a working day.
    assert CAL.working_days_between(earlier, d) == n - 1 + CAL.is_working_day(d)


@given(a=st.dates(min_value=date(2004, 1, 1), max_value=date(2025, 12, 1)),
       delta=st.integers(min_value=-390, max_value=390))
def test_it_counts_between_as_a_brute_force_walk_does(a: date, delta: int) -> None:
    b = max(a + timedelta(days=delta), date(2004, 1, 1))
    lo, hi = sorted((a, b))
    walk = sum(CAL.is_working_day(lo + timedelta(days=i)) for i in range(1, (hi - lo).days + 1))
    assert CAL.working_days_between(a, b) == (walk if b >= a else -walk)
