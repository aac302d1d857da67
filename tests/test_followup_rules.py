"""签收 and 进展反馈 date rules (rectify.core.followup), pure, on the real 2024 calendar.

2024: Spring Festival Feb 10-17 off, Sunday Feb 4 and Sunday Feb 18 are 调休 working days.
"""

from __future__ import annotations

from datetime import date

import pytest

from rectify.core.followup import (
    FollowupRules,
    ack_due_on,
    ack_on_time,
    ack_overdue,
    first_progress_due,
    next_progress_due,
    owes_progress,
    progress_missed,
    progress_on_time,
    progress_requested_today,
    rate,
)
from rectify.core.workcal import package_calendar

CAL = package_calendar()


def test_it_gives_one_working_day_for_the_ack_counting_調休_and_holidays() -> None:
    assert ack_due_on(date(2024, 1, 31), CAL) == date(2024, 2, 1)  # Wed → Thu
    assert ack_due_on(date(2024, 2, 2), CAL) == date(2024, 2, 4)  # Fri → the 调休 Sunday
    assert ack_due_on(date(2024, 2, 9), CAL) == date(2024, 2, 18)  # the eve of the holiday → 调休 Sunday
    assert ack_due_on(date(2024, 2, 10), CAL, 2) == date(2024, 2, 19)  # arrived on a day off


def test_it_calls_an_ack_overdue_only_after_its_day_and_only_when_missing() -> None:
    due = date(2024, 2, 1)
    assert not ack_overdue(due, False, due)
    assert ack_overdue(due, False, date(2024, 2, 2))
    assert not ack_overdue(due, True, date(2024, 2, 2))
    assert not ack_overdue(None, False, date(2024, 2, 2))  # findings from before 签收 existed
    assert ack_on_time(due, due) and not ack_on_time(due, date(2024, 2, 2)) and not ack_on_time(None, due)


def test_it_owes_progress_for_far_deadlines_and_every_long_term_item() -> None:
    arrived = date(2024, 1, 2)
    assert owes_progress(None, arrived, CAL)
    twenty = CAL.add_working_days(arrived, 20)
    assert not owes_progress(twenty, arrived, CAL)  # exactly 20 working days away: no
    assert owes_progress(CAL.add_working_days(arrived, 21), arrived, CAL)
    assert not owes_progress(date(2023, 12, 1), arrived, CAL)  # a deadline already past


def test_it_schedules_progress_every_n_working_days_and_stops_before_the_deadline() -> None:
    rules = FollowupRules(progress_threshold=20, progress_every=10)
    arrived = date(2024, 1, 2)
    far = date(2024, 6, 28)
    first = first_progress_due(far, arrived, CAL, rules)
    assert first == date(2024, 1, 16) and CAL.working_days_between(arrived, first) == 10
    # Across the Spring Festival: ten working days from Feb 5: 6-9 Feb, the 调休 Sunday 18th, 19-23 Feb.
    assert next_progress_due(date(2024, 2, 5), None, CAL, 10) == date(2024, 2, 23)
    near = CAL.add_working_days(arrived, 25)
    assert first_progress_due(near, arrived, CAL, rules) == date(2024, 1, 16)
    assert next_progress_due(date(2024, 1, 16), near, CAL, 10) == date(2024, 1, 30)
    assert next_progress_due(date(2024, 1, 30), near, CAL, 10) is None  # would land after the deadline
    assert first_progress_due(CAL.add_working_days(arrived, 15), arrived, CAL, rules) is None


def test_it_asks_in_the_lead_window_and_misses_after_the_day() -> None:
    due = date(2024, 1, 31)
    assert not progress_requested_today("open", due, date(2024, 1, 26), CAL)  # 3 working days before
    assert progress_requested_today("open", due, date(2024, 1, 29), CAL)
    assert progress_requested_today("rejected", due, due, CAL)
    assert not progress_requested_today("reported", due, due, CAL)  # the unit has reported: nothing owed
    assert not progress_requested_today("open", due, date(2024, 2, 1), CAL)
    assert progress_missed("open", due, date(2024, 2, 1)) and not progress_missed("open", due, due)
    assert not progress_missed("closed", due, date(2024, 2, 1))
    assert progress_on_time(due, due) and not progress_on_time(date(2024, 2, 1), due)


@pytest.mark.parametrize(("hits", "total", "want"), [(3, 4, 0.75), (0, 2, 0.0), (0, 0, None)])
def test_it_computes_a_rate_with_none_for_nothing_to_count(hits, total, want) -> None:
    assert rate(hits, total) == want
