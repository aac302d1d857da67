"""The day's one transaction: levels, stamps, events and outbox rows, each with compare-and-set.

The compare-and-set guards only what the run itself writes (the level it raises, the stamps it sets), and
the run does not bump `version`, the form's optimistic lock: a unit reporting or a supervisor closing an
item while the run works is not another run, and neither side fails because of the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, or_, select, update

from models import Event, Finding
from rectify.channels.enqueue import within_caps
from rectify.checkpoint import commits_unchecked
from rectify.core.ladder import PlannedAction
from rectify.mail import outbox
from rectify.runtime import Runtime
from rectify.services.daily import followup
from rectify.services.daily.plan import (
    ESCALATE,
    EVENT_OF_KIND,
    SIGNOFF,
    DayPlan,
    RunConflict,
)


class _Picked(Sequence[outbox.Queued]):
    """Some rows of a spool, read back one by one (the spool keeps the bytes on disk)."""

    def __init__(self, rows: Sequence[outbox.Queued], keep: list[int]) -> None:
        self.rows, self.keep = rows, keep

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self.rows[j] for j in self.keep[i]]
        return self.rows[self.keep[i]]


def _chunks(ids: list[int], size: int = 5000):
    return (ids[i:i + size] for i in range(0, len(ids), size))


def _stamp(s, ids, guard, now: datetime, **values) -> set[int]:
    """Compare-and-set over chunks of ids: only rows still matching `guard` change, so a row another run
    already changed is not changed again. Returns the ids that did not change (another run's)."""
    t = Finding.__table__
    lost: set[int] = set()
    for chunk in _chunks(sorted(ids)):
        changed = set(s.scalars(update(t).where(t.c.id.in_(chunk), guard).values(updated_at=now, **values)
                                .returning(t.c.id)))
        lost.update(set(chunk) - changed)
    return lost


def _apply_levels(s, actions: Sequence[PlannedAction], before: dict, now: datetime) -> set[int]:
    """Raise levels with a compare-and-set on the level the plan saw.

    One UPDATE per (old level, new level) pair and chunk of ids: a handful of statements a day.
    """
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for a in actions:
        groups[(before[a.finding_id][0], a.level)].append(a.finding_id)
    t = Finding.__table__
    return set().union(*(_stamp(s, ids, t.c.level == old, now, level=new)
                         for (old, new), ids in sorted(groups.items())))


def _apply_reviews(s, actions: Sequence[PlannedAction], today: date, now: datetime) -> set[int]:
    """Stamp last_review_on = today; a row another run already stamped today does not change."""
    t = Finding.__table__
    return _stamp(s, (a.finding_id for a in actions), t.c.last_review_on.is_(None) | (t.c.last_review_on < today),
                  now,
                  last_review_on=today)


def _apply_handovers(s, actions: Sequence[PlannedAction], now: datetime) -> set[int]:
    """Clear `handover_pending` once the new unit's letter is queued."""
    t = Finding.__table__
    return _stamp(s, (a.finding_id for a in actions), t.c.handover_pending.is_(True), now, handover_pending=False)


def _apply_rechecks(s, actions: Sequence[PlannedAction], today: date, now: datetime) -> set[int]:
    """Stamp recheck_notified_on = today on the findings asked about (a 回头看 answered meanwhile still
    records that it was asked)."""
    t = Finding.__table__
    return _stamp(s, (a.finding_id for a in actions), t.c.recheck_notified_on.is_(None), now,
                  recheck_notified_on=today)


def _asked_for_signoff(s, actions: Sequence[PlannedAction]) -> set[int]:
    """Which of these reports got a sign-off request (from another run) since they were made."""
    asked: set[int] = set()
    q = (select(Event.finding_id).join(Finding, Finding.id == Event.finding_id)
         .where(Event.kind == SIGNOFF, or_(Finding.reported_at.is_(None), Event.at >= Finding.reported_at)))
    for chunk in _chunks(sorted(a.finding_id for a in actions)):
        asked.update(s.scalars(q.where(Event.finding_id.in_(chunk))))
    return asked


def _event_kind(a: PlannedAction) -> str:
    return ESCALATE if a.step is not None else EVENT_OF_KIND[a.kind]


def _event_data(a: PlannedAction, day: DayPlan) -> dict[str, Any]:
    level, last_review = day.before[a.finding_id]
    to = day.routing.recipients_of.get((a.finding_id, a.kind), []) if day.routing else []
    if a.kind in followup.EVENTS:
        return followup.event_data(a, day.due_days.get(a.finding_id, {}), to)
    if a.kind == "handover":
        return {"kind": "handover", "level": level, "days": a.days, "to": to}
    if a.kind == "recheck":
        closed_on = day.details[a.finding_id].closed_on
        return {"kind": "recheck", "closed_on": closed_on.isoformat() if closed_on else None, "to": to}
    if a.kind == "replan":
        return {"kind": "replan", **day.replans.get(a.finding_id, {}), "to_addrs": to}
    if a.kind == "signoff":
        reported_at = day.details[a.finding_id].reported_at
        return {"kind": "signoff", "reported_at": reported_at.isoformat() if reported_at else None, "to": to}
    if a.step is None:
        return {"kind": "review", "last_review_on": last_review.isoformat() if last_review else None, "to": to}
    return {"step": a.step.key, "kind": a.kind, "level": a.level, "from_level": level, "days": a.days, "to": to}


def _apply_followups(s, day: DayPlan) -> set[int]:
    """签收超期 stamps, 签收/进展 requests asked once, missed progress recorded (rectify.services.daily.followup).
    Returns the findings another run got to first."""
    assert day.routing is not None
    try:
        followup.apply_followups(s, day.routing.delivered, day.progress_missed, day.today, day.now, day.due_days)
    except followup.FollowupConflict as exc:
        return set(exc.findings)
    return set()


def commit_day(rt: Runtime, day: DayPlan, queued: Sequence[outbox.Queued]) -> int:
    """Escalations, review and 回头看 stamps, handovers, their events and the day's letters: one transaction.

    Raises RunConflict (and rolls everything back) when another run got there first, naming every finding
    whose compare-and-set failed, so that the run re-plans just those (rectify.services.daily.conflicts).
    """
    assert day.routing is not None
    actions = day.routing.delivered
    escalations = [a for a in actions if a.step is not None]
    reviews = [a for a in actions if a.kind == "review"]
    handovers = [a for a in actions if a.kind == "handover"]
    rechecks = [a for a in actions if a.kind == "recheck"]
    signoffs = [a for a in actions if a.kind == "signoff"]
    events = [{"finding_id": a.finding_id, "at": day.now, "kind": _event_kind(a), "actor": "system", "ip": "",
               "note": "", "from_state": None, "to_state": None, "data": _event_data(a, day)} for a in actions]
    # The commit leaves SQLite's WAL checkpoint to the run, which does it while the mail goes out
    # (rectify.checkpoint): the day's letters are megabytes, and the copy and sync held up the sending.
    with commits_unchecked(rt.engine) as conn, rt.sessions(bind=conn) as s, s.begin():
        lost: dict[str, set[int]] = {
            "escalated": _apply_levels(s, escalations, day.before, day.now),
            "reviewed": _apply_reviews(s, reviews, day.today, day.now),
            "handed over": _apply_handovers(s, handovers, day.now),
            "asked for 回头看": _apply_rechecks(s, rechecks, day.today, day.now),
            "asked for sign-off": _asked_for_signoff(s, signoffs) if signoffs else set(),
            "asked for 签收/进展": _apply_followups(s, day),
        }
        if any(lost.values()):
            what = ", ".join(f"{len(ids)} {verb}" for verb, ids in lost.items() if ids)
            raise RunConflict(f"findings changed by another run since the plan ({what})", set().union(*lost.values()))
        for i in range(0, len(events), 5000):
            s.execute(insert(Event), events[i:i + 5000])
        # IM/SMS rows over a channel's daily cap are left out (most urgent kept); mail rows never are.
        keep, capped = within_caps(s, getattr(queued, "headers", queued), rt.settings.channels.daily_cap,
                                   day.today)
        rows = queued if len(keep) == len(queued) else _Picked(queued, keep)
        new = sum(outbox.enqueue(s, rows[i:i + 500], day.now) for i in range(0, len(rows), 500))
        if new != len(rows):
            raise RunConflict("a letter for today was queued by another run")  # re-routed around it
        day.channel_capped = dict(capped)
    return new
