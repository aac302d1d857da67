"""Small builders for test data. They write through the models, like the real code does."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date

from sqlalchemy.orm import Session

from models import Finding, Person, Round, SupervisionGroup, Unit

_seq = itertools.count(1)


def unit(s: Session, name: str = "县财政局", kind: str = "county", *, contact: str | None = "contact",
         leader: str | None = "leader", aliases: list[str] | None = None) -> Unit:
    """A unit with a contact and a leader; pass None to leave either out."""
    u = Unit(name=name, kind=kind, aliases=aliases or [])
    s.add(u)
    s.flush()
    n = next(_seq)
    if contact:
        s.add(Person(name=f"{name}联系人", email=f"{contact}{n}@unit.example", role="unit_contact", unit_id=u.id))
    if leader:
        s.add(Person(name=f"{name}负责人", email=f"{leader}{n}@unit.example", role="unit_leader", unit_id=u.id))
    s.flush()
    return u


def group(s: Session, name: str = "第一督导组", members: int = 1) -> SupervisionGroup:
    g = SupervisionGroup(name=name)
    s.add(g)
    s.flush()
    for _ in range(members):
        n = next(_seq)
        s.add(Person(name=f"督导员{n}", email=f"sup{n}@group.example", role="supervisor", group_id=g.id))
    s.flush()
    return g


def round_(s: Session, name: str = "2024年第一轮督导", started: date = date(2024, 1, 8)) -> Round:
    r = Round(name=name, started_on=started)
    s.add(r)
    s.flush()
    return r


def finding(s: Session, *, unit: Unit, round: Round, group: SupervisionGroup | None = None,
            due: date | None = date(2024, 1, 31), inspected: date = date(2024, 1, 10),
            problem: str = "未按要求公开行政执法信息", state: str = "open", level: int = 0,
            kind: str = "fixed", code: str | None = None) -> Finding:
    n = next(_seq)
    f = Finding(code=code or f"T-{n:05d}", round_id=round.id, group_id=group.id if group else None,
                unit_id=unit.id, inspected_on=inspected, problem=problem,
                problem_key=hashlib.sha256(problem.encode()).hexdigest(), opinion="限期整改",
                deadline_kind=kind, due_date=due, original_due_date=due, state=state, level=level)
    s.add(f)
    s.flush()
    return f
