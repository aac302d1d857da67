"""考评 over a period: each unit's figures from six queries (none per unit or finding), scored with
rectify.core.assessment.

One operation for every door: `rectify assess`, the JSON API, the 驾驶舱, the weekly digest's 红黑榜 and the
bulletin's ranking section. The viewer's scope (rectify.services.access.visible) limits the findings read,
so a supervisor ranks the units of their group by their group's findings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from models import Event, Finding, ProgressReport, Unit
from rectify.bulletin.query import day_end, local_day
from rectify.core.assessment import Components, Facts, Ranked, Weights, components, rank
from rectify.core.ladder import Step
from rectify.core.workcal import WorkCalendar


@dataclass
class Assessment:
    start: date
    end: date
    weights: Weights
    ranking: list[Ranked] = field(default_factory=list)

    def top(self, n: int = 5) -> list[Ranked]:
        return self.ranking[:n]

    def bottom(self, n: int = 5) -> list[Ranked]:
        """The last `n`, worst last; none that are also in the top (a short list is not split twice)."""
        rest = self.ranking[min(n, len(self.ranking)):]
        return rest[-n:]


def escalation_offsets(ladder: tuple[Step, ...] | list[Step]) -> tuple[int, ...]:
    """The offsets of the ladder's 督办 and 通报 steps (kinds supervise and notify)."""
    return tuple(s.offset for s in ladder if s.kind in ("supervise", "notify"))


def load_facts(s: Session, tz: str, scope: ColumnElement[bool] | None = None) -> list[Facts]:
    """Every finding in scope as Facts: one query for the findings, one for the reopen events."""
    where = scope if scope is not None else true()
    reopened: dict[int, list[date]] = defaultdict(list)
    for fid, at in s.execute(select(Event.finding_id, Event.at).join(Finding, Finding.id == Event.finding_id)
                             .where(Event.kind == "reopen", where)):
        reopened[fid].append(local_day(at, tz))  # type: ignore[arg-type]
    q = select(Finding.id, Finding.unit_id, Finding.state, Finding.inspected_on, Finding.due_date,
               Finding.original_due_date, Finding.reported_at, Finding.closed_at).where(where)
    out = []
    for r in s.execute(q):
        closed_on = local_day(r.closed_at, tz) if r.state == "closed" else None
        reported_on = local_day(r.reported_at, tz)
        out.append(Facts(r.id, r.unit_id, r.state, r.inspected_on, due=r.due_date, original_due=r.original_due_date,
                         done_on=(reported_on or closed_on) if closed_on else None, closed_on=closed_on,
                         reported_on=reported_on, reopened_on=tuple(sorted(reopened.get(r.id, ())))))
    return out


def ack_counts(s: Session, start: date, end: date, tz: str,
               scope: ColumnElement[bool] | None = None) -> dict[int, tuple[int, int]]:
    """签收及时率 per unit: findings acknowledged by their 签收 day / findings whose 签收 day is in the period."""
    where = scope if scope is not None else true()
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for unit_id, due, at in s.execute(select(Finding.unit_id, Finding.ack_due_on, Finding.acknowledged_at)
                                      .where(Finding.ack_due_on.between(start, end), Finding.state != "cancelled",
                                             where)):
        c = out[unit_id]
        c[1] += 1
        c[0] += at is not None and local_day(at, tz) <= due  # type: ignore[operator]
    return {u: (a, b) for u, (a, b) in out.items()}


def progress_counts(s: Session, start: date, end: date, tz: str,
                    scope: ColumnElement[bool] | None = None) -> dict[int, tuple[int, int]]:
    """进展按时率 per unit: on-time reports / (on-time reports + misses), each by the local day it happened in
    the period — the definition of rectify.services.followup_stats, here scoped like the other figures."""
    where = scope if scope is not None else true()
    since, until = day_end(start - timedelta(days=1), tz), day_end(end, tz)
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for (unit_id,) in s.execute(
            select(Finding.unit_id).select_from(ProgressReport).join(Finding, Finding.id == ProgressReport.finding_id)
            .where(ProgressReport.at >= since, ProgressReport.at < until, ProgressReport.on_time, where)):
        out[unit_id][0] += 1
        out[unit_id][1] += 1
    for (unit_id,) in s.execute(
            select(Finding.unit_id).select_from(Event).join(Finding, Finding.id == Event.finding_id)
            .where(Event.kind == "progress_missed", Event.at >= since, Event.at < until, where)):
        out[unit_id][1] += 1
    return {u: (a, b) for u, (a, b) in out.items()}


def assess(s: Session, *, start: date, end: date, tz: str, cal: WorkCalendar, ladder: tuple[Step, ...],
           weights: Weights, scope: ColumnElement[bool] | None = None) -> Assessment:
    """The ranking of every unit that has findings in scope (units without any are not ranked)."""
    facts = load_facts(s, tz, scope)
    figures = components(facts, start=start, end=end, cal=cal, escalation_offsets=escalation_offsets(ladder),
                         ack=ack_counts(s, start, end, tz, scope), progress=progress_counts(s, start, end, tz, scope))
    units = {f.unit_id for f in facts if f.state != "cancelled" and f.inspected_on <= end}
    figures = {u: figures.get(u, Components()) for u in units | set(figures)}
    names: dict[int, str] = {}
    order: list[int] = []
    for uid, name in s.execute(select(Unit.id, Unit.name).where(Unit.id.in_(list(figures)))
                               .order_by(Unit.kind, Unit.sort_order, Unit.id)):
        names[uid] = name
        order.append(uid)
    return Assessment(start, end, weights, rank(figures, names, weights, order))


def period(end: date, start: date | None, days: int) -> tuple[date, date]:
    """[start, end]: the given start, else the `days` days up to `end`."""
    return (start or end - timedelta(days=days - 1)), end



def assess_runtime(rt, *, start: date, end: date, scope: ColumnElement[bool] | None = None) -> Assessment:
    """`assess` with the runtime's zone, calendar, ladder and configured weights (rt: rectify.runtime.Runtime)."""
    with rt.sessions() as s:
        return assess(s, start=start, end=end, tz=rt.settings.timezone, cal=rt.calendar, ladder=rt.ladder,
                      weights=rt.settings.assessment.weights(), scope=scope)
