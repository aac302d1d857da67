from datetime import date

import pytest

from rectify.core.deadlines import DeadlineKind, DeadlineRule, due_date
from rectify.core.workcal import package_calendar

CAL = package_calendar()
INSPECTED = date(2024, 2, 7)  # a Wednesday just before Spring Festival 2024


def test_it_keeps_a_fixed_date() -> None:
    assert due_date(DeadlineRule.fixed(date(2024, 3, 31)), INSPECTED, CAL) == date(2024, 3, 31)


def test_it_counts_immediate_in_working_days_across_the_holiday() -> None:
    # Feb 8, Feb 9, then the 调休 Sunday Feb 18.
    assert due_date(DeadlineRule.immediate(), INSPECTED, CAL, immediate_days=3) == date(2024, 2, 18)
    assert due_date(DeadlineRule.immediate(), INSPECTED, CAL, immediate_days=1) == date(2024, 2, 8)


def test_it_counts_working_days_from_the_inspection_date() -> None:
    assert due_date(DeadlineRule.working_days(5), INSPECTED, CAL) == date(2024, 2, 20)


def test_it_counts_calendar_days_plainly() -> None:
    assert due_date(DeadlineRule.calendar_days(10), INSPECTED, CAL) == date(2024, 2, 17)


def test_it_gives_no_due_date_for_long_term() -> None:
    assert due_date(DeadlineRule.long_term(), INSPECTED, CAL) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: DeadlineRule(DeadlineKind.FIXED),
        lambda: DeadlineRule(DeadlineKind.WORKING_DAYS),
        lambda: DeadlineRule(DeadlineKind.IMMEDIATE, days=3),
        lambda: DeadlineRule(DeadlineKind.LONG_TERM, due=date(2024, 1, 1)),
        lambda: DeadlineRule.working_days(-1),
    ],
)
def test_it_refuses_an_inconsistent_rule(make) -> None:
    with pytest.raises(ValueError):
        make()
