"""考评: a unit's score over a period, from plain per-finding facts. Pure: no I/O, no clock.

Two steps, both pure so they can be checked by hand and by property tests:
`components` turns the findings of a period into per-unit figures, and `score` turns one unit's figures
into points with the configured weights (`[assessment]` in rectify.toml, rectify.config.AssessmentSettings).

The formula (documented in docs/practice.md, 考评):

    score = w_on_time · 按期销号率 + w_on_time_original · 按原时限按期销号率
          + w_ack · 签收及时率 + w_progress · 进展按时率
          − p_overdue · 逾期未整改 − p_escalation · 督办/通报 − p_rebound · 反弹,   clamped to [0, 100]

Rules for each figure over the period [start, end]:
- a finding *counts* toward a deadline's rate when that deadline falls in the period, or when it was done in
  the period on or before a deadline that falls after it (finishing early counts as a success now); it is
  *on time* when done (the verified report's day, else the closing day) by `end` and on or before the deadline.
  A unit with nothing counted has a rate of 1 (nothing due, nothing missed);
- 逾期未整改: unfinished at `end` (not closed, no report waiting) and past the *original* deadline;
- 督办/通报: the 督办 and 通报 steps the original deadline brings in the period (the day `offset` working days
  after it, when the finding was not done by then), each counted once;
- 反弹: reopenings after 回头看 in the period;
- 签收及时率 and 进展按时率 are given as counts (the 签收 and 进展反馈 records, rectify.services.followup_stats).

Extensions: every penalty is taken against the original deadline and the current deadline's rate weighs 0 by
default, so an approved extension cannot raise a unit's score under the defaults (tests/test_assessment.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from rectify.core.lateness import original_of
from rectify.core.workcal import CalendarError, WorkCalendar

CLOSED = "closed"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Weights:
    """Points for each rate (0..1) and the deduction per counted item. Defaults sum the rates to 100."""

    on_time: float = 0.0  # 按期销号率 (current deadline): 0 so an extension earns nothing
    on_time_original: float = 60.0  # 按原时限按期销号率
    ack: float = 20.0  # 签收及时率
    progress: float = 20.0  # 进展按时率
    overdue: float = 2.0  # per 逾期未整改 finding
    escalation: float = 1.0  # per 督办/通报 step
    rebound: float = 3.0  # per 反弹


@dataclass(frozen=True, slots=True)
class Facts:
    """What the assessment needs of one finding (days in the county's zone)."""

    id: int
    unit_id: int
    state: str
    inspected_on: date
    due: date | None = None  # the deadline in force
    original_due: date | None = None  # before any extension; None: same as `due`
    done_on: date | None = None  # the day the verified report was made, else the closing day (closed only)
    closed_on: date | None = None
    reported_on: date | None = None  # a report waiting for verification counts as not overdue
    reopened_on: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class Components:
    """One unit's figures over the period; every rate is a (numerator, denominator) pair."""

    on_time: int = 0
    due: int = 0
    on_time_original: int = 0
    due_original: int = 0
    overdue: int = 0
    escalations: int = 0
    rebounds: int = 0
    ack_on_time: int = 0
    ack_due: int = 0
    progress_on_time: int = 0
    progress_due: int = 0  # on-time reports + missed ones

    def rate(self, name: str) -> float:
        num, den = {
            "on_time": (self.on_time, self.due),
            "on_time_original": (self.on_time_original, self.due_original),
            "ack": (self.ack_on_time, self.ack_due),
            "progress": (self.progress_on_time, self.progress_due),
        }[name]
        return num / den if den else 1.0


RATES = ("on_time", "on_time_original", "ack", "progress")


def score(c: Components, w: Weights) -> float:
    """Points in [0, 100], rounded to 0.1."""
    points = sum(getattr(w, name) * c.rate(name) for name in RATES)
    points -= w.overdue * c.overdue + w.escalation * c.escalations + w.rebound * c.rebounds
    return round(min(100.0, max(0.0, points)), 1)


def _counts(deadline: date | None, done: date | None, start: date, end: date) -> tuple[int, int]:
    """(on time, counted) of one finding against one deadline over [start, end]."""
    if deadline is None:  # 长期坚持: counted only when done in the period, always on time
        return (1, 1) if done is not None and start <= done <= end else (0, 0)
    on_time = done is not None and done <= end and done <= deadline
    if start <= deadline <= end:
        return int(on_time), 1
    if deadline > end and on_time and start <= done:  # type: ignore[operator]
        return 1, 1
    return 0, 0


def _unfinished_at(f: Facts, t: date) -> bool:
    closed = f.closed_on is not None and f.closed_on <= t and f.state == CLOSED
    awaiting = f.reported_on is not None and f.reported_on <= t and f.state in ("reported", CLOSED)
    return not closed and not awaiting


def _escalations(f: Facts, original: date | None, start: date, end: date, cal: WorkCalendar,
                 offsets: Sequence[int]) -> int:
    if original is None:
        return 0
    # The ladder stops once the unit has reported (a report waiting, or verified); a report sent back resumes it.
    finished = f.done_on if f.state == CLOSED else f.reported_on if f.state == "reported" else None
    n = 0
    for offset in offsets:
        try:
            day = cal.add_working_days(original, offset)
        except CalendarError:  # a year the calendar does not know: not counted until it does
            continue
        if start <= day <= end and (finished is None or finished >= day):
            n += 1
    return n


def components(findings: Iterable[Facts], *, start: date, end: date, cal: WorkCalendar,
               escalation_offsets: Sequence[int] = (5, 10),
               ack: Mapping[int, tuple[int, int]] | None = None,
               progress: Mapping[int, tuple[int, int]] | None = None) -> dict[int, Components]:
    """Per-unit figures over [start, end]. `escalation_offsets`: the ladder's 督办 and 通报 offsets;
    `ack` / `progress`: per unit (on time, due) from the 签收 and 进展反馈 records."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    acc: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in findings:
        if f.state == CANCELLED or f.inspected_on > end:
            continue
        a = acc[f.unit_id]
        done = f.done_on if f.state == CLOSED and f.closed_on is not None and f.closed_on <= end else None
        original = original_of(f.due, f.original_due)
        ok, n = _counts(f.due, done, start, end)
        a["on_time"] += ok
        a["due"] += n
        ok, n = _counts(original, done, start, end)
        a["on_time_original"] += ok
        a["due_original"] += n
        a["overdue"] += original is not None and end > original and _unfinished_at(f, end)
        a["escalations"] += _escalations(f, original, start, end, cal, escalation_offsets)
        a["rebounds"] += sum(1 for d in f.reopened_on if start <= d <= end)
    units = set(acc) | set(ack or {}) | set(progress or {})
    out = {}
    for u in units:
        c = Components(**acc.get(u, {}))
        if ack and u in ack:
            c = replace(c, ack_on_time=ack[u][0], ack_due=ack[u][1])
        if progress and u in progress:
            c = replace(c, progress_on_time=progress[u][0], progress_due=progress[u][1])
        out[u] = c
    return out


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int  # 1 is best; equal scores share a rank (1, 1, 3)
    unit_id: int
    unit: str
    score: float
    c: Components = field(default_factory=Components)


def rank(figures: Mapping[int, Components], names: Mapping[int, str], w: Weights,
         order: Sequence[int] = ()) -> list[Ranked]:
    """Best first; ties in the directory's order (`order`, else by name), sharing the rank."""
    pos = {u: i for i, u in enumerate(order)}
    scored = sorted(((score(c, w), u) for u, c in figures.items()),
                    key=lambda su: (-su[0], pos.get(su[1], len(pos)), names.get(su[1], "")))
    out: list[Ranked] = []
    for i, (s, u) in enumerate(scored, start=1):
        r = out[-1].rank if out and out[-1].score == s else i
        out.append(Ranked(r, u, names.get(u, str(u)), s, figures[u]))
    return out
