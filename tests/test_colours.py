"""蓝/黄/红 on the edge days, and a unit's colour."""

from datetime import date

import pytest

from rectify.config import default_ladder
from rectify.core.colours import finding_colour, unit_colour
from rectify.core.ladder import steps_from
from rectify.core.workcal import package_calendar

CAL = package_calendar()
LADDER = steps_from(default_ladder())
DUE = date(2024, 3, 15)  # a Friday; no holidays nearby


@pytest.mark.parametrize(
    ("today", "level", "colour"),
    [
        (date(2024, 3, 11), 0, None),  # 4 working days left: outside the warning window
        (date(2024, 3, 12), 1, "blue"),  # 3 left: the first reminder's day
        (date(2024, 3, 15), 2, "blue"),  # due today
        (date(2024, 3, 18), 3, "yellow"),  # 1 working day late (Monday)
        (date(2024, 3, 21), 3, "yellow"),  # 4 late: still below 督办
        (date(2024, 3, 22), 3, "red"),  # 5 late: 督办 reached by lateness
        (date(2024, 3, 19), 4, "red"),  # level already at 督办 (imported late, say)
    ],
)
def test_it_colours_the_edge_days(today: date, level: int, colour: str | None) -> None:
    assert finding_colour(state="open", due=DUE, level=level, today=today, cal=CAL, ladder=LADDER) == colour


def test_it_turns_yellow_when_an_extension_was_refused() -> None:
    got = finding_colour(state="open", due=DUE, level=0, today=date(2024, 3, 1), cal=CAL, ladder=LADDER,
                         extension_refused=True)
    assert got == "yellow"


@pytest.mark.parametrize("state", ["reported", "closed", "cancelled"])
def test_it_gives_no_colour_to_what_the_unit_no_longer_owes(state: str) -> None:
    assert finding_colour(state=state, due=DUE, level=5, today=date(2024, 5, 1), cal=CAL, ladder=LADDER) is None


def test_it_honours_a_configured_red_step_and_window() -> None:
    got = finding_colour(state="open", due=DUE, level=3, today=date(2024, 3, 18), cal=CAL, ladder=LADDER,
                         red_from="urge")
    assert got == "red"
    assert finding_colour(state="open", due=DUE, level=0, today=date(2024, 3, 8), cal=CAL, ladder=LADDER,
                          blue_window=5) == "blue"


def test_it_colours_a_unit_by_its_worst_finding_and_two_yellows() -> None:
    assert unit_colour([None, "blue", None]) == "blue"
    assert unit_colour(["blue", "yellow"]) == "yellow"
    assert unit_colour(["yellow", "blue", "yellow"]) == "red"
    assert unit_colour(["yellow", "yellow"], yellows_make_red=0) == "yellow"
    assert unit_colour([]) is None
