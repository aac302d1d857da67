"""Colour-coded warnings as supervision offices use them (蓝/黄/红). Pure.

蓝 blue: due within the warning window; 黄 yellow: overdue below the red step, or an extension was
refused; 红 red: reached the red step (督办 by default) or beyond. Closed, reported and cancelled
findings carry no colour: the unit owes nothing right now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from rectify.core.ladder import Step
from rectify.core.lifecycle import ACTIVE
from rectify.core.workcal import WorkCalendar

BLUE, YELLOW, RED = "blue", "yellow", "red"
_RANK = {None: 0, BLUE: 1, YELLOW: 2, RED: 3}


def red_level(ladder: Sequence[Step], red_from: str) -> int:
    """The 1-based ladder level at which a finding turns red."""
    for i, step in enumerate(ladder, start=1):
        if step.key == red_from:
            return i
    raise ValueError(f"no ladder step with key {red_from!r}")


def finding_colour(*, state: str, due: date | None, level: int, today: date, cal: WorkCalendar,
                   ladder: Sequence[Step], red_from: str = "supervise", blue_window: int = 3,
                   extension_refused: bool = False) -> str | None:
    if state not in ACTIVE or due is None:
        return None
    red = red_level(ladder, red_from)
    days = cal.working_days_between(due, today)
    if level >= red or days >= ladder[red - 1].offset:
        return RED
    if days >= 1 or extension_refused:
        return YELLOW
    if -blue_window <= days <= 0:
        return BLUE
    return None


def worst(colours: Iterable[str | None]) -> str | None:
    return max(colours, key=lambda c: _RANK[c], default=None)


def unit_colour(colours: Iterable[str | None], yellows_make_red: int = 2) -> str | None:
    """A unit's colour is its worst finding's, and `yellows_make_red` yellows (0: off) make it red."""
    colours = list(colours)
    if yellows_make_red and sum(c == YELLOW for c in colours) >= yellows_make_red:
        return RED
    return worst(colours)
