"""签收 and 进展反馈 in the daily run (issue 15): what to ask today, and the stamps that make each ask once.

Plan side (reads only), each picking from the rows the day's one scan kept (`Row`, `relevant`) and returning
(actions, targets, before) like plan.py's other extras:
- `acks`: findings waiting for 签收 whose unit has not been asked for this due day → the unit contact's letter.
- `ack_overdues`: still unacknowledged after `ack_due_on`, group not yet told → the group's letter, once
  (`ack_overdue_notified_on`), like a 催办.
- `progress_requests`: a 阶段性进展 due within PROGRESS_LEAD working days, not asked for this due day → the
  unit contact's letter.
- `missed_progress`: due day passed with no report → recorded (not mailed) by the commit.

Commit side (inside the run's one transaction), each a compare-and-set that raises RunConflict when another
run got there first: `apply_followups`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from models import Event, Finding
from rectify.core.followup import next_progress_due, progress_missed, progress_requested_today
from rectify.core.ladder import PlannedAction
from rectify.core.routing import Target
from rectify.core.workcal import CalendarError
from rectify.runtime import Runtime

ACK_REQUEST, ACK_OVERDUE = "ack_request", "ack_overdue"  # event kinds
PROGRESS_REQUEST, PROGRESS_MISSED = "progress_request", "progress_missed"
EVENTS = {"ack": ACK_REQUEST, "ack_overdue": ACK_OVERDUE, "progress": PROGRESS_REQUEST}
UNFINISHED = ("open", "rejected", "reported")
ACTIVE = ("open", "rejected")


class FollowupConflict(Exception):
    """Another run asked, told or recorded the same thing first (`findings`: which ones)."""

    def __init__(self, message: str, findings=()) -> None:
        super().__init__(message)
        self.findings = frozenset(findings)


@dataclass(frozen=True, slots=True)
class Row:
    """An unfinished finding as the day's one scan read it (rectify.services.daily.plan._scan)."""

    id: int
    state: str
    due_date: date | None
    level: int
    unit_id: int
    group_id: int | None
    last_review_on: date | None
    handover_pending: bool
    ack_due_on: date | None
    acknowledged_at: datetime | None
    ack_overdue_notified_on: date | None
    progress_due_on: date | None


def relevant(handover_pending: bool, ack_due_on: date | None, acknowledged_at: datetime | None,
             progress_due_on: date | None) -> bool:
    """Whether the scan keeps a row for the asks below (most unfinished findings owe none of them)."""
    return bool(handover_pending) or (ack_due_on is not None and acknowledged_at is None) \
        or progress_due_on is not None


@dataclass(frozen=True, slots=True)
class Missed:
    finding_id: int
    due_on: date
    next_due: date | None


def relevant_clause():
    """`relevant` in SQL, for the finished-by-the-unit (reported) findings: the scan reads those only when they
    owe an ask (an ordinary day at 100,000 findings: ~9,000 reported rows, almost none of them)."""
    return (Finding.handover_pending.is_(True) | (Finding.ack_due_on.is_not(None) & Finding.acknowledged_at.is_(None))
            | Finding.progress_due_on.is_not(None))


Extra = tuple[list[PlannedAction], dict[int, Target], dict[int, tuple[int, date | None]]]


def _asked(conn, kind: str, due_of: dict[int, date]) -> set[int]:
    """Findings already asked (an event of `kind`) for the due day they have now."""
    ids = sorted(due_of)
    asked: set[int] = set()
    for i in range(0, len(ids), 5000):
        q = select(Event.finding_id, Event.data).where(Event.kind == kind, Event.finding_id.in_(ids[i:i + 5000]))
        for fid, data in conn.execute(q):
            if (data or {}).get("due_on") == due_of[fid].isoformat():
                asked.add(fid)
    return asked


def acks(rt: Runtime, today: date, rows: Sequence[Row]) -> Extra:
    """Waiting for 签收 (any unfinished state) and not yet asked for this due day."""
    due = [(r, r.ack_due_on) for r in rows if r.ack_due_on is not None and r.acknowledged_at is None]
    return _asks(rt, due, "ack", ACK_REQUEST, today)


def progress_requests(rt: Runtime, today: date, rows: Sequence[Row]) -> Extra:
    cal = rt.calendar

    def window(due: date) -> bool:
        try:
            return progress_requested_today("open", due, today, cal)
        except CalendarError:
            return False

    due = [(r, r.progress_due_on) for r in rows if r.progress_due_on is not None and r.progress_due_on >= today
           and r.state in ACTIVE and window(r.progress_due_on)]
    return _asks(rt, due, "progress", PROGRESS_REQUEST, today)


def _asks(rt: Runtime, due: Sequence[tuple[Row, date]], kind: str, event: str, today: date) -> Extra:
    asked: set[int] = set()
    if due:
        with rt.engine.connect() as conn:
            asked = _asked(conn, event, {r.id: d for r, d in due})
    actions, targets, before = [], {}, {}
    for r, day in due:
        if r.id in asked:
            continue
        try:
            days = rt.calendar.working_days_between(day, today)
        except CalendarError:
            days = None
        actions.append(PlannedAction(r.id, kind, r.level, None, days))
        targets[r.id] = Target(r.unit_id, r.group_id)
        before[r.id] = (r.level, r.last_review_on)
    return actions, targets, before


def ack_overdues(rt: Runtime, today: date, rows: Sequence[Row]) -> Extra:
    """Still unacknowledged after `ack_due_on`, group not yet told."""
    actions, targets, before = [], {}, {}
    for r in rows:
        if r.ack_due_on is None or r.ack_due_on >= today or r.acknowledged_at is not None \
                or r.ack_overdue_notified_on is not None:
            continue
        try:
            days = rt.calendar.working_days_between(r.ack_due_on, today)
        except CalendarError:
            days = None
        actions.append(PlannedAction(r.id, "ack_overdue", r.level, None, days))
        targets[r.id] = Target(r.unit_id, r.group_id)
        before[r.id] = (r.level, r.last_review_on)
    return actions, targets, before


def missed_progress(rt: Runtime, today: date, rows: Sequence[Row]) -> list[Missed]:
    """Active findings whose progress due day passed without a report; each gets its next due day from today."""
    every = rt.settings.supervision.progress_every_working_days
    out = []
    for r in rows:
        if r.progress_due_on is None or r.progress_due_on >= today or r.state not in ACTIVE \
                or not progress_missed(r.state, r.progress_due_on, today):
            continue
        try:
            nxt = next_progress_due(today, r.due_date, rt.calendar, every)
        except CalendarError:
            nxt = None
        out.append(Missed(r.id, r.progress_due_on, nxt))
    return out


def detail(kind: str, due: dict[str, date | None]) -> dict[str, Any]:
    """Extra fields of a letter row for these kinds (the templates name the due day)."""
    return {"ack_due": due.get("ack"), "progress_due": due.get("progress")}


def due_days(rt: Runtime, ids: Sequence[int]) -> dict[int, dict[str, date | None]]:
    """ack_due_on / progress_due_on of the findings listed in today's letters."""
    out: dict[int, dict[str, date | None]] = {}
    q = select(Finding.id, Finding.ack_due_on, Finding.progress_due_on)
    with rt.engine.connect() as conn:
        for i in range(0, len(ids), 5000):
            for fid, ack, progress in conn.execute(q.where(Finding.id.in_(ids[i:i + 5000]))):
                out[fid] = {"ack": ack, "progress": progress}
    return out


def event_data(a: PlannedAction, due: dict[str, date | None], to: list[str]) -> dict[str, Any]:
    key = "progress" if a.kind == "progress" else "ack"
    day = due.get(key)
    return {"kind": a.kind, "due_on": day.isoformat() if day else None, "days": a.days, "to": to}


def apply_followups(s, actions: Sequence[PlannedAction], missed: Sequence[Missed], today: date,
                    now: datetime, due_of: dict[int, dict[str, date | None]]) -> None:
    """Inside the run's transaction: stamp 签收超期 once, check nobody asked first, record missed reports.

    Raises FollowupConflict naming every finding another run got to first (the caller rolls back)."""
    t = Finding.__table__
    lost: set[int] = set()
    overdue = sorted(a.finding_id for a in actions if a.kind == "ack_overdue")
    for i in range(0, len(overdue), 5000):
        chunk = overdue[i:i + 5000]
        changed = set(s.scalars(update(t).where(t.c.id.in_(chunk), t.c.ack_overdue_notified_on.is_(None),
                                                t.c.acknowledged_at.is_(None))
                                .values(ack_overdue_notified_on=today, version=t.c.version + 1, updated_at=now)
                                .returning(t.c.id)))
        lost.update(set(chunk) - changed)
    for kind in ("ack", "progress"):
        key = "progress" if kind == "progress" else "ack"
        wanted = {a.finding_id: due_of[a.finding_id][key] for a in actions if a.kind == kind}
        wanted = {fid: d for fid, d in wanted.items() if d is not None}
        if wanted:
            lost.update(_asked(s.connection(), EVENTS[kind], wanted))
    groups: dict[tuple[date, date | None], list[int]] = defaultdict(list)
    for m in missed:
        groups[(m.due_on, m.next_due)].append(m.finding_id)
    for (due_on, nxt), ids in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or date.min)):
        ids.sort()
        for i in range(0, len(ids), 5000):
            chunk = ids[i:i + 5000]
            changed = set(s.scalars(update(t).where(t.c.id.in_(chunk), t.c.progress_due_on == due_on)
                                    .values(progress_due_on=nxt, version=t.c.version + 1, updated_at=now)
                                    .returning(t.c.id)))
            lost.update(set(chunk) - changed)
    if lost:
        raise FollowupConflict("some 签收/进展 requests or records were made by another run", lost)
    rows = [{"finding_id": m.finding_id, "at": now, "kind": PROGRESS_MISSED, "actor": "system", "ip": "",
             "note": "", "from_state": None, "to_state": None,
             "data": {"due_on": m.due_on.isoformat(), "next_due_on": m.next_due.isoformat() if m.next_due else None}}
            for m in missed]
    for i in range(0, len(rows), 5000):
        s.execute(insert(Event), rows[i:i + 5000])
