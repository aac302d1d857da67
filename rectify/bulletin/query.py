"""The bulletin's database side: bulk reads into plain rows, and the one write that records an issue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from models import Bulletin, BulletinItem, Event, Finding, Unit
from rectify.bulletin.stats import FindingRow, UnitRow


def day_end(as_of: date, tz: str) -> datetime:
    """The first instant after `as_of` in the county's zone (closures before it belong to the period)."""
    nxt = as_of + timedelta(days=1)
    return pendulum.datetime(nxt.year, nxt.month, nxt.day, tz=tz)


@cache
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def local_day(at: datetime | None, tz: str) -> date | None:
    """The day `at` falls on in the county's zone (a naive time is UTC). The zone is loaded once: pendulum
    loaded it on every call, which was most of the time of the 驾驶舱 and the digest on 60,000 findings."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(_zone(tz)).date()


@dataclass(frozen=True)
class LastIssue:
    issue_no: int
    as_of: date


@dataclass
class PeriodData:
    units: list[UnitRow]
    findings: list[FindingRow]
    closures: list[tuple[int, datetime]]  # (finding id, closed_at) of this period's new closures


def last_issue(session: Session) -> LastIssue | None:
    row = session.execute(select(Bulletin.issue_no, Bulletin.as_of).order_by(Bulletin.issue_no.desc()).limit(1)).first()
    return LastIssue(row.issue_no, row.as_of) if row else None


def issue_exists(session: Session, issue_no: int) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Bulletin).where(Bulletin.issue_no == issue_no)))


def _unreported():
    """Closures not yet carried by any bulletin (a reopened and re-closed finding is a new closure)."""
    return ~exists().where(and_(BulletinItem.finding_id == Finding.id, BulletinItem.closed_at == Finding.closed_at))


def reopen_days(session: Session, tz: str) -> dict[int, tuple[date, ...]]:
    """The local days each finding was reopened after 回头看 (反弹), from the event log, in one query."""
    out: dict[int, list[date]] = {}
    for fid, at in session.execute(select(Event.finding_id, Event.at).where(Event.kind == "reopen")
                                   .order_by(Event.finding_id, Event.at)):
        out.setdefault(fid, []).append(local_day(at, tz))  # type: ignore[arg-type]
    return {fid: tuple(days) for fid, days in out.items()}


def load_period(session: Session, *, as_of: date, tz: str) -> PeriodData:
    """Every unit and finding as plain rows, flagging the closures up to the end of `as_of` not yet reported."""
    end = day_end(as_of, tz)
    reopened = reopen_days(session, tz)
    units = [UnitRow(r.id, r.name, r.kind, r.sort_order)
             for r in session.execute(select(Unit.id, Unit.name, Unit.kind, Unit.sort_order))]
    is_new = and_(Finding.state == "closed", Finding.closed_at.is_not(None), Finding.closed_at < end, _unreported())
    q = select(
        Finding.id, Finding.unit_id, Finding.group_id, Finding.state, Finding.inspected_on, Finding.due_date,
        Finding.level, Finding.closed_at, Finding.problem, Finding.measures,
        Finding.original_due_date, Finding.extensions_used, Finding.reported_at,
        is_new.label("is_new"),
    ).where(Finding.state != "cancelled").order_by(Finding.id)
    findings: list[FindingRow] = []
    closures: list[tuple[int, datetime]] = []
    for r in session.execute(q):
        new = bool(r.is_new)
        findings.append(FindingRow(
            id=r.id, unit_id=r.unit_id, state=r.state, inspected_on=r.inspected_on, due_date=r.due_date,
            level=r.level, group_id=r.group_id, closed_on=local_day(r.closed_at, tz),
            problem=r.problem if new else "", measures=r.measures if new else "", new_closure=new,
            original_due=r.original_due_date, extensions=r.extensions_used or 0,
            done_on=local_day(r.reported_at, tz) if r.state == "closed" else None,
            reopened_on=reopened.get(r.id, ()),
        ))
        if new:
            closures.append((r.id, r.closed_at))
    return PeriodData(units, findings, closures)


def record_issue(session: Session, *, issue_no: int, as_of: date, period_start: date | None, issued_at: datetime,
                 closures: list[tuple[int, datetime]], files: dict[str, str], stats: dict[str, Any]) -> Bulletin:
    """Insert the Bulletin and its items and flush; unique constraints turn a concurrent issue into IntegrityError."""
    b = Bulletin(issue_no=issue_no, as_of=as_of, period_start=period_start, issued_at=issued_at,
                 files=files, stats=stats)
    session.add(b)
    session.flush()
    if closures:
        session.execute(BulletinItem.__table__.insert(),
                        [{"bulletin_id": b.id, "finding_id": fid, "closed_at": at} for fid, at in closures])
    session.flush()
    return b
