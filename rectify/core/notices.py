"""督办通知 rules: which findings call for one, its number and its reply date. Pure.

A unit gets one notice per day listing every finding of it that reached the 督办 step that day. Notices
are numbered per calendar year from 1 (〔2024〕1号, 〔2024〕2号, …); a new year starts again at 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from rectify.core.ladder import Step
from rectify.core.workcal import WorkCalendar

SUPERVISE = "supervise"


class NoticeError(Exception):
    """A notice that cannot be found or read; the message says which (the CLI shows it as one line)."""


def supervise_level(ladder: Sequence[Step]) -> int | None:
    """The level (1-based) a finding has once the first step of kind "supervise" fired; None without one."""
    for i, step in enumerate(ladder, start=1):
        if step.kind == SUPERVISE:
            return i
    return None


def crossed_supervise(old_level: int, new_level: int, ladder: Sequence[Step]) -> bool:
    """True when an escalation took a finding to the 督办 step or past it (a finding imported late may jump
    straight to 通报: it still gets its 督办通知)."""
    level = supervise_level(ladder)
    return level is not None and old_level < level <= new_level


def notice_batches(escalations: Iterable[tuple[int, int, int, int]], ladder: Sequence[Step]) -> dict[int, list[int]]:
    """From (finding id, unit id, old level, new level) of a day's escalations: unit id → finding ids that
    call for a 督办通知, ready for `rectify.services.notices.issue_notices`."""
    out: dict[int, list[int]] = {}
    for finding_id, unit_id, old, new in escalations:
        if crossed_supervise(old, new, ladder):
            out.setdefault(unit_id, []).append(finding_id)
    return {unit: sorted(set(ids)) for unit, ids in out.items()}


def next_number(taken: Iterable[int]) -> int:
    """The next number of a year: one past the highest taken (gaps are never refilled), else 1."""
    return max(taken, default=0) + 1


def reply_by(today: date, cal: WorkCalendar, working_days: int) -> date:
    """The day the unit must answer by: `working_days` working days after the notice's day."""
    return cal.add_working_days(today, working_days)
