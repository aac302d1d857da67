"""签收 and 进展反馈 in the demo's simulated month, through the same services the form calls.

Each unit has a habit (seeded): most acknowledge new findings the day their letter comes (一键签收), some a
couple of working days late, a few only after the group has been told; most progress reports come on time
(the day before or on the due day), some are missed and the daily run records the miss.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from models import Finding, Person, ProgressReport
from rectify.core.followup import FollowupRules
from rectify.runtime import Runtime
from rectify.services.access import Viewer
from rectify.services.findings import Actor
from rectify.services.followup import acknowledge_all, submit_progress


@dataclass
class FollowupHabits:
    rng: random.Random
    ack_delay: dict[int, int] = field(default_factory=dict)  # unit id → working days after arrival

    def delay(self, unit_id: int) -> int:
        if unit_id not in self.ack_delay:
            p = self.rng.random()
            self.ack_delay[unit_id] = 0 if p < 0.7 else 2 if p < 0.9 else 4
        return self.ack_delay[unit_id]


def followup_day(rt: Runtime, day: date, habits: FollowupHabits, texts: dict[str, list[str]],
                 contacts: dict[int, Person], at: Callable[[int, int], datetime]) -> None:
    cal, rules = rt.calendar, FollowupRules.of(rt.settings.supervision)
    with rt.sessions() as s, s.begin():
        waiting = s.execute(select(Finding.unit_id, Finding.ack_due_on)
                            .where(Finding.acknowledged_at.is_(None), Finding.ack_due_on.is_not(None),
                                   Finding.state.in_(("open", "rejected", "reported")))).all()
        units = sorted({u for u, due in waiting
                        if cal.working_days_between(cal.add_working_days(due, -rules.ack_working_days), day)
                        >= habits.delay(u)})
        for u in units:
            contact = contacts.get(u)
            if contact is not None:
                acknowledge_all(s, Viewer.of(contact), Actor.of(contact, "10.12.0.8"), at(9, 5), day)
        owing = s.scalars(select(Finding).where(Finding.progress_due_on.is_not(None),
                                                Finding.progress_due_on <= cal.add_working_days(day, 1),
                                                Finding.progress_due_on >= day,
                                                Finding.state.in_(("open", "rejected"))).order_by(Finding.id))
        for f in owing:
            contact = contacts.get(f.unit_id)
            if contact is None or habits.rng.random() < 0.25:  # forgotten today
                continue
            submit_progress(s, f, Viewer.of(contact), Actor.of(contact, "10.12.0.8"), at(11, 20), day, cal, rules,
                            text=habits.rng.choice(texts["progress_reports"]), expected_version=f.version)


def tally(rt: Runtime) -> dict[str, int]:
    """What the month did, for the summary: 签收 on time / late / still waiting, reports on time / late / missed."""
    from models import Event

    with rt.sessions() as s:
        acks = s.execute(select(Finding.ack_due_on, Finding.acknowledged_at)
                         .where(Finding.ack_due_on.is_not(None))).all()
        reports = list(s.scalars(select(ProgressReport.on_time)))
        missed = len(s.scalars(select(Event.id).where(Event.kind == "progress_missed")).all())
        overdue = len(s.scalars(select(Event.id).where(Event.kind == "ack_overdue")).all())
    on_time = sum(1 for due, at in acks if at is not None and at.astimezone(rt.tz).date() <= due)
    done = sum(1 for _, at in acks if at is not None)
    return {"ack_on_time": on_time, "ack_late": done - on_time, "ack_waiting": len(acks) - done,
            "ack_overdue_told": overdue, "progress_on_time": sum(reports), "progress_late": len(reports) - sum(reports),
            "progress_missed": missed}
