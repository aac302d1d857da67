"""签收及时率 and 进展按时率 per unit over a period, for the digest, the bulletin and the demo (15b's 考评 reads
the same tables: findings.ack_due_on / acknowledged_at, progress_reports, progress_missed events).

- 签收及时率 = findings acknowledged on or before `ack_due_on` ÷ findings whose `ack_due_on` falls in the period.
  A finding not yet acknowledged counts in the denominator once its due day is in the period.
- 进展按时率 = on-time progress reports ÷ (on-time reports + `progress_missed` events), both by the local day
  they happened in the period. A late report counts in neither term: its miss was already recorded.
Findings count for the unit they belong to now. None (shown —) when a unit has nothing to count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pendulum
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Event, Finding, ProgressReport, SupervisionGroup, Unit
from rectify.core.followup import rate


@dataclass
class UnitFollowup:
    unit_id: int
    unit: str
    ack_due: int = 0  # findings whose 签收 fell due in the period
    ack_on_time: int = 0
    reports_on_time: int = 0
    reports_late: int = 0
    missed: int = 0  # progress_missed events in the period

    @property
    def ack_rate(self) -> float | None:
        return rate(self.ack_on_time, self.ack_due)

    @property
    def progress_rate(self) -> float | None:
        return rate(self.reports_on_time, self.reports_on_time + self.missed)

    @property
    def active(self) -> bool:
        return bool(self.ack_due or self.reports_on_time or self.reports_late or self.missed)


def _bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    nxt = end + timedelta(days=1)
    return (pendulum.datetime(start.year, start.month, start.day, tz=tz),
            pendulum.datetime(nxt.year, nxt.month, nxt.day, tz=tz))


def followup_by_unit(session: Session, start: date, end: date, tz: str,
                     unit_order: Sequence[str] = ()) -> list[UnitFollowup]:
    """Per-unit counts over [start, end] (local days), units with anything to count, in display order."""
    since, until = _bounds(max(start, date(1970, 1, 2)), end, tz)
    names = {u.id: (u.name, u.sort_order) for u in session.execute(select(Unit.id, Unit.name, Unit.sort_order))}
    out: dict[int, UnitFollowup] = {}

    def row(uid: int) -> UnitFollowup:
        return out.setdefault(uid, UnitFollowup(uid, names.get(uid, ("", 0))[0]))

    for uid, due, acked in session.execute(
            select(Finding.unit_id, Finding.ack_due_on, Finding.acknowledged_at)
            .where(Finding.ack_due_on >= start, Finding.ack_due_on <= end, Finding.state != "cancelled")):
        r = row(uid)
        r.ack_due += 1
        if acked is not None and pendulum.instance(acked).in_timezone(tz).date() <= due:
            r.ack_on_time += 1
    for uid, on_time in session.execute(
            select(Finding.unit_id, ProgressReport.on_time).join(Finding, Finding.id == ProgressReport.finding_id)
            .where(ProgressReport.at >= since, ProgressReport.at < until)):
        r = row(uid)
        if on_time:
            r.reports_on_time += 1
        else:
            r.reports_late += 1
    missed = Counter(session.scalars(
        select(Finding.unit_id).join(Event, Event.finding_id == Finding.id)
        .where(Event.kind == "progress_missed", Event.at >= since, Event.at < until)))
    for uid, n in missed.items():
        row(uid).missed += n
    order = {name: i for i, name in enumerate(unit_order)}
    return sorted((r for r in out.values() if r.active),
                  key=lambda r: (order.get(r.unit, len(order)), names.get(r.unit_id, ("", 0))[1], r.unit_id))


@dataclass(frozen=True)
class ProgressItem:
    group: str
    unit: str
    code: str
    problem: str
    text: str
    at: date
    on_time: bool


def latest_reports_by_group(session: Session, start: date, end: date, tz: str, top: int = 5
                            ) -> list[tuple[str, list[ProgressItem]]]:
    """The bulletin's 整改进展 section: the newest `top` progress reports of each supervision group in the period
    (one per finding: its latest), groups in name order, findings without a group under 其他."""
    since, until = _bounds(max(start, date(1970, 1, 2)), end, tz)
    q = (select(ProgressReport.finding_id, ProgressReport.text, ProgressReport.at, ProgressReport.on_time,
                Finding.code, Finding.problem, Unit.name, SupervisionGroup.name)
         .join(Finding, Finding.id == ProgressReport.finding_id).join(Unit, Unit.id == Finding.unit_id)
         .outerjoin(SupervisionGroup, SupervisionGroup.id == Finding.group_id)
         .where(ProgressReport.at >= since, ProgressReport.at < until)
         .order_by(ProgressReport.at.desc(), ProgressReport.id.desc()))
    seen: set[int] = set()
    groups: dict[str, list[ProgressItem]] = {}
    for fid, text, at, on_time, code, problem, unit, group in session.execute(q):
        if fid in seen:
            continue
        seen.add(fid)
        items = groups.setdefault(group or "", [])
        if len(items) < top:
            items.append(ProgressItem(group or "", unit, code, problem, text,
                                      pendulum.instance(at).in_timezone(tz).date(), on_time))
    return sorted(groups.items(), key=lambda kv: (kv[0] == "", kv[0]))
