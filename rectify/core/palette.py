"""蓝/黄/红 for many findings on one day: `rectify.core.colours` with the office's settings bound once. Pure.

Reports colour thousands of findings at once; binding the settings here keeps every caller (ledger, digest,
form, daily mail) on the same rule and the same configuration.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from rectify.core.colours import BLUE, RED, YELLOW, finding_colour, red_level, unit_colour
from rectify.core.ladder import Step
from rectify.core.lifecycle import ACTIVE
from rectify.core.workcal import CalendarError, WorkCalendar

COLOURS = (RED, YELLOW, BLUE)  # worst first, as reports list them


@dataclass
class Palette:
    today: date
    cal: WorkCalendar
    ladder: Sequence[Step]
    red_from: str = "supervise"
    blue_window: int = 3
    yellows_make_red: int = 2

    def __post_init__(self) -> None:
        red_level(self.ladder, self.red_from)  # an unknown step fails here, not on the first red finding

    @classmethod
    def from_settings(cls, supervision: object, *, today: date, cal: WorkCalendar, ladder: Sequence[Step]) -> Palette:
        """From `settings.supervision` (red_from, blue_window, yellows_make_red)."""
        return cls(today, cal, ladder, red_from=supervision.red_from,  # type: ignore[attr-defined]
                   blue_window=supervision.blue_window,  # type: ignore[attr-defined]
                   yellows_make_red=supervision.yellows_make_red)  # type: ignore[attr-defined]

    def finding(self, *, state: str, due: date | None, level: int, extension_refused: bool = False) -> str | None:
        if state not in ACTIVE or due is None:
            return None
        try:
            return finding_colour(state=state, due=due, level=level, today=self.today, cal=self.cal,
                                  ladder=self.ladder, red_from=self.red_from, blue_window=self.blue_window,
                                  extension_refused=extension_refused)
        except CalendarError:  # a date no calendar covers: no colour, never a failed page or digest
            return None

    def unit(self, colours: Iterable[str | None]) -> str | None:
        return unit_colour(colours, self.yellows_make_red)

    def units(self, pairs: Iterable[tuple[Hashable, str | None]]) -> dict[Hashable, str | None]:
        """Each unit's colour from (unit, finding colour) pairs; units with no pair are absent."""
        by_unit: dict[Hashable, list[str | None]] = defaultdict(list)
        for unit, colour in pairs:
            by_unit[unit].append(colour)
        return {unit: self.unit(cs) for unit, cs in by_unit.items()}
