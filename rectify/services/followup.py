"""签收 and 进展反馈 on stored findings: acknowledge one, acknowledge all of a unit's new findings at once,
make a progress report. The form, the mail link, the JSON API, the CLI and the demo all come here.

Each operation checks the access policy (rectify.services.access) and the pure rules (rectify.core.followup),
writes with compare-and-set (the finding's `version` for one finding, an UPDATE guarded on
`acknowledged_at IS NULL` for the bulk 签收) and records one audit event per finding. The caller commits;
any exception means nothing was changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import Event, Finding, ProgressReport
from rectify.core.followup import FollowupRules, ack_due_on, first_progress_due, next_progress_due
from rectify.core.practice import PracticeError
from rectify.core.workcal import CalendarError, WorkCalendar
from rectify.services.access import Decision, Do, Target, Viewer, decide, visible
from rectify.services.findings import Actor, ConflictError, record_event

UNFINISHED = ("open", "rejected", "reported")
ACK, PROGRESS = "acknowledge", "progress_report"  # event kinds
TEXT_LIMIT = 2000  # characters of a progress report


class NotAllowed(Exception):
    """Not this person's finding or not their role (403); nothing changed."""


def waits_for_ack(f: Finding) -> bool:
    """待签收: a due day is set, nobody has acknowledged it, and the unit still owes work on it."""
    return f.ack_due_on is not None and f.acknowledged_at is None and f.state in UNFINISHED


def arrival(day: date, due: date | None, cal: WorkCalendar, rules: FollowupRules) -> dict[str, date | None]:
    """The follow-up columns of a finding arriving at a unit on `day` (import or reassignment).

    A day beyond the calendar's years leaves the rule unset rather than guessing.
    """
    try:
        ack = ack_due_on(day, cal, rules.ack_working_days)
        progress = first_progress_due(due, day, cal, rules)
    except CalendarError:
        return {"ack_due_on": None, "progress_due_on": None}
    return {"ack_due_on": date(ack.year, ack.month, ack.day), "progress_due_on": progress}


class Arrival:
    """The 签收 and progress due days of findings arriving on one day, memoised per deadline (an import
    holds few distinct deadlines, so a 100k-row import asks the calendar a few hundred times)."""

    def __init__(self, day: date, cal: WorkCalendar, rules: FollowupRules):
        self.day, self.cal, self.rules = day, cal, rules
        self._memo: dict[date | None, dict[str, date | None]] = {}

    def __call__(self, due: date | None) -> dict[str, date | None]:
        got = self._memo.get(due)
        if got is None:
            got = self._memo[due] = arrival(self.day, due, self.cal, self.rules)
        return got


def mark_arrival(f: Finding, day: date, cal: WorkCalendar, rules: FollowupRules) -> None:
    """A (re)assigned finding waits for a new 签收 and restarts its progress cadence."""
    for key, value in arrival(day, f.due_date, cal, rules).items():
        setattr(f, key, value)
    f.acknowledged_at = None
    f.acknowledged_by_id = None
    f.ack_overdue_notified_on = None


def _require(viewer: Viewer, do: Do, f: Finding) -> None:
    decision = decide(viewer, do, Target.of(f))
    if decision is Decision.FORBIDDEN:
        raise NotAllowed
    if decision is Decision.NOT_NOW:
        raise ConflictError(f)


def may_report_progress(viewer: Viewer, f: Finding) -> bool:
    return decide(viewer, Do.PROGRESS, Target.of(f)) is Decision.OK


def _flush(session: Session, f: Finding) -> None:
    try:
        session.flush()  # UPDATE ... WHERE version = :seen
    except StaleDataError:
        session.rollback()
        raise ConflictError(session.get(Finding, f.id) or f) from None


def acknowledge(session: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, today: date, *,
                expected_version: int | None = None) -> Event:
    """签收 one finding: records who and when; on time when on or before `ack_due_on`."""
    _require(viewer, Do.ACKNOWLEDGE, f)
    if expected_version is not None and expected_version != f.version:
        raise ConflictError(f)
    if not waits_for_ack(f):
        raise PracticeError("this finding does not wait for 签收")
    due = f.ack_due_on
    f.acknowledged_at, f.acknowledged_by_id = now, actor.person_id
    _flush(session, f)
    return record_event(session, f, ACK, actor, now,
                        data={"ack_due_on": due.isoformat(), "on_time": today <= due})


def acknowledge_all(session: Session, viewer: Viewer, actor: Actor, now: datetime, today: date,
                    unit_id: int | None = None) -> list[int]:
    """Bulk 签收: every finding of the viewer's unit (or `unit_id`, for an admin) that waits for it.

    One guarded UPDATE per chunk (compare-and-set on `acknowledged_at IS NULL`): a finding somebody else
    acknowledged meanwhile is left alone and gets no second event. Returns the ids acknowledged now.
    """
    unit = unit_id if unit_id is not None else viewer.unit_id
    if unit is None:
        raise NotAllowed
    q = (select(Finding.id, Finding.unit_id, Finding.group_id, Finding.state, Finding.closed_by_id,
                Finding.ack_due_on)
         .where(Finding.unit_id == unit, Finding.acknowledged_at.is_(None), Finding.ack_due_on.is_not(None),
                Finding.state.in_(UNFINISHED), visible(viewer))
         .order_by(Finding.id))
    rows = session.execute(q).all()
    if any(decide(viewer, Do.ACKNOWLEDGE, Target(r.unit_id, r.group_id, r.state, r.closed_by_id))
           is not Decision.OK for r in rows):
        raise NotAllowed
    if not rows and decide(viewer, Do.ACKNOWLEDGE, Target(unit, None, "open")) is not Decision.OK:
        raise NotAllowed
    due_of = {r.id: r.ack_due_on for r in rows}
    t = Finding.__table__
    done: list[int] = []
    ids = sorted(due_of)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        res = session.execute(
            update(t).where(t.c.id.in_(chunk), t.c.acknowledged_at.is_(None), t.c.state.in_(UNFINISHED))
            .values(acknowledged_at=now, acknowledged_by_id=actor.person_id, version=t.c.version + 1,
                    updated_at=now)
            .returning(t.c.id))
        done.extend(res.scalars())
    done.sort()
    if done:
        session.execute(Event.__table__.insert(), [
            {"finding_id": fid, "at": now, "kind": ACK, "actor": actor.label, "actor_id": actor.person_id,
             "ip": actor.ip, "from_state": None, "to_state": None, "note": "",
             "data": {"ack_due_on": due_of[fid].isoformat(), "on_time": today <= due_of[fid], "bulk": True}}
            for fid in done])
        session.expire_all()  # ORM copies of these findings are stale now
    return done


def submit_progress(session: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, today: date,
                    cal: WorkCalendar, rules: FollowupRules, *, text: str, evidence_ids: Sequence[int] = (),
                    expected_version: int | None = None) -> ProgressReport:
    """A 阶段性进展 answering the finding's current due day; the next due day counts from today."""
    _require(viewer, Do.PROGRESS, f)
    if expected_version is not None and expected_version != f.version:
        raise ConflictError(f)
    text = text.strip()
    if not text:
        raise PracticeError("a progress report needs its text")
    if len(text) > TEXT_LIMIT:
        raise PracticeError(f"a progress report holds at most {TEXT_LIMIT} characters")
    due = f.progress_due_on
    if due is None:
        raise PracticeError("this finding owes no progress report")
    on_time = today <= due
    try:
        f.progress_due_on = next_progress_due(today, f.due_date, cal, rules.progress_every)
    except CalendarError:
        f.progress_due_on = None
    _flush(session, f)
    report = ProgressReport(finding_id=f.id, person_id=actor.person_id, at=now, text=text,
                            evidence=list(evidence_ids), due_on=due, on_time=on_time)
    session.add(report)
    session.flush()
    record_event(session, f, PROGRESS, actor, now, note=text,
                 data={"report": report.id, "due_on": due.isoformat(), "on_time": on_time,
                       "evidence": list(evidence_ids),
                       "next_due_on": f.progress_due_on.isoformat() if f.progress_due_on else None})
    return report


def progress_reports(session: Session, finding_id: int) -> list[ProgressReport]:
    return list(session.scalars(select(ProgressReport).where(ProgressReport.finding_id == finding_id)
                                .order_by(ProgressReport.id)))


def latest_progress(session: Session, finding_ids: Sequence[int]) -> dict[int, ProgressReport]:
    """The newest report of each finding (the ledger's 最新进展)."""
    out: dict[int, ProgressReport] = {}
    ids = list(finding_ids)
    for i in range(0, len(ids), 900):
        for r in session.scalars(select(ProgressReport).where(ProgressReport.finding_id.in_(ids[i:i + 900]))
                                 .order_by(ProgressReport.id)):
            out[r.finding_id] = r
    return out
