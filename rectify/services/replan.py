"""Re-planning: when a notice replaces a provisional year, move the deadlines that were computed on it.

Only deadlines that come from a working-day rule (N个工作日内, 立行立改) are recomputed, from their original
rule and the inspection date; explicit dates (2027年1月15日前, an approved extension, a reopened finding's
new date) are never touched. Dates derived on the fly (长期坚持 review cadence, 回头看 due dates) are not
stored, so they follow the new calendar by themselves.

Each move is an event in the trail (原 → 新 and the document number). The ladder stays consistent because
`level` (steps already fired) is kept: a deadline that moved later fires nothing early and nothing twice; one
that moved earlier is caught up by the planner on the next run. The unit's next letter says once that the
deadline changed (rectify.services.daily.plan picks up moves not yet announced).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Finding
from rectify.core.deadlines import DeadlineKind, DeadlineRule, due_date
from rectify.core.workcal import CalendarError, WorkCalendar
from rectify.services.findings import SYSTEM, record_event

REPLANNED = "deadline_replanned"  # event kind: data {"from", "to", "document", "year"}
REPLAN_NOTICE = "replan_notice"  # event kind: the unit's letter told it
RULE_KINDS = (DeadlineKind.WORKING_DAYS.value, DeadlineKind.IMMEDIATE.value)
LIVE = ("open", "rejected", "reported")


@dataclass(frozen=True)
class Move:
    finding_id: int
    code: str
    rule: str  # the deadline cell as typed (30个工作日内)
    old: date
    new: date

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "rule": self.rule, "from": self.old.isoformat(), "to": self.new.isoformat()}


def _rule(kind: str, days: int | None) -> DeadlineRule:
    return DeadlineRule.immediate() if kind == DeadlineKind.IMMEDIATE.value else DeadlineRule.working_days(days or 0)


def plan_moves(s: Session, old: WorkCalendar, new: WorkCalendar, year: int, immediate_days: int) -> list[Move]:
    """The working-day deadlines whose computation touches `year` and that `new` puts elsewhere."""
    q = (select(Finding.id, Finding.code, Finding.deadline_kind, Finding.deadline_days, Finding.deadline_text,
                Finding.inspected_on, Finding.due_date)
         .where(Finding.deadline_kind.in_(RULE_KINDS), Finding.state.in_(LIVE), Finding.extensions_used == 0,
                Finding.due_date.is_not(None), Finding.due_date == Finding.original_due_date,
                Finding.due_date >= date(year, 1, 1), Finding.inspected_on <= date(year, 12, 31))
         .order_by(Finding.id))
    moves: list[Move] = []
    for r in s.execute(q):
        try:
            rule = _rule(r.deadline_kind, r.deadline_days)
            computed_before = due_date(rule, r.inspected_on, old, immediate_days)
            computed = due_date(rule, r.inspected_on, new, immediate_days)
        except (CalendarError, ValueError):
            continue  # a row that cannot be computed is reported by the daily run, not here
        if computed_before != r.due_date:
            continue  # not what the old calendar gave: someone set this date; leave it
        if computed is not None and computed != r.due_date:
            moves.append(Move(r.id, r.code, r.deadline_text, r.due_date, computed))
    return moves


def apply_moves(s: Session, moves: Sequence[Move], document: str, now: datetime) -> None:
    """Write the moves and their events; the caller commits (with the imported year)."""
    for m in moves:
        f = s.get(Finding, m.finding_id)
        assert f is not None
        f.due_date = m.new
        f.original_due_date = m.new
        source = document or "国务院办公厅放假安排通知"
        note = f"依据{source}重新计算整改时限：{m.old.isoformat()} → {m.new.isoformat()}"
        record_event(s, f, REPLANNED, SYSTEM, now, note=note,
                     data={"from": m.old.isoformat(), "to": m.new.isoformat(), "document": document,
                           "rule": m.rule})
