"""Lateness against both deadlines, and colours in bulk with the settings bound once."""

from datetime import date

import pytest

from rectify.config import SupervisionSettings, default_ladder
from rectify.core.ladder import steps_from
from rectify.core.lateness import done_on_time, original_of, overdue_working_days, was_extended
from rectify.core.palette import Palette
from rectify.core.workcal import package_calendar

CAL = package_calendar()
LADDER = steps_from(default_ladder())


def test_it_takes_the_current_deadline_as_the_original_when_none_was_kept() -> None:
    assert original_of(date(2024, 3, 29), None) == date(2024, 3, 29)
    assert original_of(date(2024, 3, 29), date(2024, 3, 15)) == date(2024, 3, 15)
    assert was_extended(date(2024, 3, 29), date(2024, 3, 15))
    assert not was_extended(date(2024, 3, 15), date(2024, 3, 15)) and not was_extended(None, date(2024, 3, 15))


def test_it_counts_a_finding_done_on_its_deadline_as_on_time() -> None:
    assert done_on_time(date(2024, 3, 15), date(2024, 3, 15))
    assert not done_on_time(date(2024, 3, 18), date(2024, 3, 15))
    assert done_on_time(date(2024, 3, 18), None)  # 长期坚持 has no deadline to miss
    assert not done_on_time(None, date(2024, 3, 15))


def test_it_counts_working_days_late_only_for_what_the_unit_owes() -> None:
    assert overdue_working_days(CAL, "open", date(2024, 2, 9), date(2024, 2, 19)) == 2  # across Spring Festival
    assert overdue_working_days(CAL, "rejected", date(2024, 3, 15), date(2024, 3, 15)) == 0
    assert overdue_working_days(CAL, "reported", date(2024, 3, 1), date(2024, 3, 15)) is None
    assert overdue_working_days(CAL, "open", None, date(2024, 3, 15)) is None


def test_it_colours_many_findings_and_their_units_with_one_configuration() -> None:
    p = Palette.from_settings(SupervisionSettings(yellows_make_red=3), today=date(2024, 3, 19), cal=CAL,
                              ladder=LADDER)
    colours = [p.finding(state="open", due=date(2024, 3, 15), level=3),  # 2 working days late
               p.finding(state="open", due=date(2024, 3, 21), level=0),
               p.finding(state="open", due=date(2024, 4, 30), level=0, extension_refused=True),
               p.finding(state="closed", due=date(2024, 3, 1), level=5)]
    assert colours == ["yellow", "blue", "yellow", None]
    assert p.units([("A", colours[0]), ("A", colours[2]), ("B", colours[1]), ("C", None)]) == {
        "A": "yellow", "B": "blue", "C": None}  # two yellows are not enough when three make red here
    assert p.unit(["yellow"] * 3) == "red"


def test_it_refuses_a_red_step_the_ladder_does_not_have() -> None:
    with pytest.raises(ValueError, match="no ladder step"):
        Palette(date(2024, 3, 19), CAL, LADDER, red_from="escalate")
