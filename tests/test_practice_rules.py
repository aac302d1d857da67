"""Extension, deadline-edit, closure and 回头看 rules (pure)."""

from datetime import date

import pytest

from rectify.core.practice import (
    PracticeError,
    check_closure,
    check_deadline_edit,
    check_extension_decision,
    check_extension_request,
    recheck_due_on,
    rechecks_due,
)
from rectify.core.workcal import package_calendar

CAL = package_calendar()
DUE = date(2024, 3, 15)


def ask(**kw):
    args = dict(state="open", due=DUE, today=date(2024, 3, 10), used=0, limit=1, proposed=date(2024, 3, 29),
                reason="需协调财政资金")
    args.update(kw)
    check_extension_request(**args)


def test_it_accepts_a_timely_extension_request() -> None:
    ask()
    ask(today=DUE)  # on the due day the deadline has not passed yet


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"today": date(2024, 3, 18)}, "has passed"),
        ({"used": 1}, "used its 1"),
        ({"reason": "  "}, "needs a reason"),
        ({"proposed": DUE}, "after the current deadline"),
        ({"state": "closed"}, "unfinished"),
        ({"due": None}, "long-term"),
        ({"pending": True}, "already waiting"),
    ],
)
def test_it_refuses_an_extension_request_that_breaks_a_rule(kw, message) -> None:
    with pytest.raises(PracticeError, match=message):
        ask(**kw)


def test_it_lets_the_supervisor_choose_another_date_or_refuse_with_a_reason() -> None:
    today = date(2024, 3, 12)
    assert check_extension_decision(approve=True, proposed=date(2024, 3, 29), chosen=None, today=today,
                                    reason="") == date(2024, 3, 29)
    assert check_extension_decision(approve=True, proposed=date(2024, 3, 29), chosen=date(2024, 3, 22),
                                    today=today, reason="") == date(2024, 3, 22)
    assert check_extension_decision(approve=False, proposed=date(2024, 3, 29), chosen=None, today=today,
                                    reason="理由不充分") is None
    with pytest.raises(PracticeError, match="needs a reason"):
        check_extension_decision(approve=False, proposed=date(2024, 3, 29), chosen=None, today=today, reason="")


def test_it_refuses_a_deadline_edit_without_a_reason() -> None:
    with pytest.raises(PracticeError, match="needs a reason"):
        check_deadline_edit(state="open", old=DUE, new=date(2024, 4, 1), reason="")
    check_deadline_edit(state="open", old=DUE, new=date(2024, 4, 1), reason="上级文件调整时限")


def test_it_needs_the_head_sign_off_in_a_two_level_round() -> None:
    check_closure(two_level=False, head_signed=False)
    check_closure(two_level=True, head_signed=True)
    with pytest.raises(PracticeError, match="sign-off"):
        check_closure(two_level=True, head_signed=False)


def test_it_schedules_the_recheck_thirty_working_days_after_closing() -> None:
    # Closed Tue 2024-01-30; 30 working days cross Spring Festival 2024 (Feb 4 and 18 are 调休 working days).
    due = recheck_due_on(date(2024, 1, 30), CAL, 30)
    assert CAL.working_days_between(date(2024, 1, 30), due) == 30
    assert due == date(2024, 3, 15)
    items = [(1, "closed", due, None), (2, "closed", due, date(2024, 3, 15)), (3, "open", due, None)]
    assert rechecks_due(items, date(2024, 3, 14), CAL) == []
    assert rechecks_due(items, due, CAL) == [1]
    assert rechecks_due(items, date(2024, 3, 16), CAL) == []  # a Saturday: nothing on a day off
