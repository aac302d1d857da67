"""Matching a findings sheet's rows to stored findings, and writing them: new ones in bulk, changed ones
through the ORM with an "update" event each.

New findings (the whole of a first import) go in with `BulkInsert`: ids reserved in one statement, one
driver executemany per 5,000 findings and one per their 5,000 "import" events, no SELECT per row. Updates
are fewer and carry their own old → new values, so they keep the plain ORM path.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models import Event, Finding, Round, SupervisionGroup
from rectify.core.deadlines import DeadlineKind
from rectify.intake.bulk import BulkInsert, big_cache, indexes_rebuilt, reserve_ids
from rectify.intake.finding_rows import Progress, Row
from rectify.services.findings import Actor, record_event
from rectify.services.followup import Arrival, mark_arrival

Stored = Any  # a Row of STORED_COLUMNS
STORED_COLUMNS = (Finding.id, Finding.code, Finding.round_id, Finding.unit_id, Finding.group_id,
                  Finding.inspected_on, Finding.problem, Finding.problem_key, Finding.opinion, Finding.owner_name,
                  Finding.note, Finding.deadline_kind, Finding.due_date, Finding.original_due_date)


def match_rows(session: Session, rows: list[Row], rounds: dict[str, tuple[int, str]]
           ) -> tuple[dict[int, Stored], dict[str, str]]:
    """Stored findings the rows are (row number → stored columns), and 编号 held by other rounds."""
    round_ids = sorted({rounds[r.round_key][0] for r in rows if r.round_key in rounds})
    stored: list[Stored] = []
    for i in range(0, len(round_ids), 500):
        stored.extend(session.execute(select(*STORED_COLUMNS).where(Finding.round_id.in_(round_ids[i:i + 500]))))
    by_code = {s.code: s for s in stored}
    by_key: dict[tuple[int, int, str], list[Stored]] = {}
    for s in sorted(stored, key=lambda s: s.id):
        by_key.setdefault((s.round_id, s.unit_id, s.problem_key), []).append(s)

    matches: dict[int, Stored] = {}
    claimed: set[int] = set()
    for row in rows:
        s = by_code.get(row.code) if row.code else None
        if s is not None:
            matches[row.number] = s
            claimed.add(s.id)
    for row in rows:
        if row.number in matches or row.round_key not in rounds:
            continue
        candidates = by_key.get((rounds[row.round_key][0], row.unit_id, row.pkey), [])
        for s in candidates:
            if s.id not in claimed:
                matches[row.number] = s
                claimed.add(s.id)
                break

    foreign: dict[str, str] = {}
    unknown = [r.code for r in rows if r.code and r.number not in matches]
    others = select(Finding.id)
    if round_ids:
        others = others.where(Finding.round_id.not_in(round_ids))
    if unknown and session.scalar(select(exists(others))):
        for i in range(0, len(unknown), 500):
            query = (select(Finding.code, Round.name).join(Round, Round.id == Finding.round_id)
                     .where(Finding.code.in_(unknown[i:i + 500])))
            foreign.update(session.execute(query).all())
    return matches, foreign


def diff_row(row: Row, s: Stored, groups: dict[str, tuple[int, str]]) -> dict[str, list[Any]]:
    """Fields the row changes: name → [old, new] (dates as ISO text, ready for the event log)."""
    diff: dict[str, list[Any]] = {}
    if row.unit_id != s.unit_id:
        diff["unit_id"] = [s.unit_id, row.unit_id]
    if row.group_key:
        gid = groups.get(row.group_key, (None, ""))[0]
        if gid is None or gid != s.group_id:
            diff["group_id"] = [s.group_id, gid]
    if row.inspected_on != s.inspected_on:
        diff["inspected_on"] = [s.inspected_on.isoformat(), row.inspected_on.isoformat()]
    if row.pkey != s.problem_key:
        diff["problem"] = [s.problem, row.problem]
    for key, old in (("opinion", s.opinion), ("owner", s.owner_name), ("note", s.note)):
        new = getattr(row, key)
        if new is not None and new != old:
            diff["owner_name" if key == "owner" else key] = [old, new]
    if row.due is None:
        same = s.due_date is None and s.deadline_kind == DeadlineKind.LONG_TERM.value
    else:
        same = row.due in (s.due_date, s.original_due_date)
    if not same:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        diff["due_date"] = [iso(s.due_date), iso(row.due)]
    return diff


def write_rows(session: Session, source: str, rows: list[Row], matches: dict[int, Stored],
               changes: dict[int, dict[str, list[Any]]], rounds: dict[str, tuple[int, str]],
               groups: dict[str, tuple[int, str]], now: datetime, actor: Actor, on_progress: Progress | None,
               arrive: Arrival | None = None) -> None:
    """Create new rounds and groups, insert new findings in bulk, update changed ones (the caller commits)."""
    new_rows = [r for r in rows if r.number not in matches]
    # Rounds and groups first: few rows, plain ORM.
    # Over the distinct values in sheet order (C-level passes), not row by row: the same rounds and groups.
    started: dict[str, date] = {}
    names: dict[str, str] = {}
    for key, name, day in dict.fromkeys(map(attrgetter("round_key", "round_name", "inspected_on"), rows)):
        if key not in rounds:
            started[key] = min(started.get(key, day), day)
            names.setdefault(key, name)
    made_rounds = {}
    for key in names:
        made_rounds[key] = Round(name=names[key], started_on=started[key])
        session.add(made_rounds[key])
    made_groups = {}
    for key, name in dict.fromkeys(map(attrgetter("group_key", "group_name"), rows)):
        if key and name and key not in groups and key not in made_groups:
            made_groups[key] = SupervisionGroup(name=name)
            session.add(made_groups[key])
    session.flush()
    rounds.update({k: (o.id, o.name) for k, o in made_rounds.items()})
    groups.update({k: (o.id, o.name) for k, o in made_groups.items()})

    codes = _generated_codes(session, new_rows, rounds)
    stamp = datetime.fromtimestamp(now.timestamp(), UTC)  # a plain datetime binds faster than pendulum's
    total = len(new_rows) + len(changes)
    with big_cache(session), indexes_rebuilt(session, Finding.__table__, len(new_rows)):
        _insert_new(session, source, new_rows, codes, rounds, groups, stamp, actor, arrive, on_progress, total)
    done = len(new_rows)

    by_number = {r.number: r for r in rows}
    changed = sorted(changes)
    for i in range(0, len(changed), 500):
        numbers = changed[i:i + 500]
        ids = {matches[n].id: n for n in numbers}
        for f in session.scalars(select(Finding).where(Finding.id.in_(list(ids)))):
            n = ids[f.id]
            _apply(f, by_number[n], changes[n], groups)
            if arrive is not None and "unit_id" in changes[n]:  # moved to another unit: a new 签收
                mark_arrival(f, arrive.day, arrive.cal, arrive.rules)
            record_event(session, f, "update", actor, now, note="import",
                         data={"source": source, "row": n, "changes": changes[n]})
        session.flush()
        done += len(numbers)
        if on_progress:
            on_progress("write", done, total)


_FINDING_COLUMNS = ("id", "code", "seq", "round_id", "group_id", "unit_id", "inspected_on", "problem", "problem_key",
                   "opinion", "owner_name", "note", "deadline_kind", "deadline_days", "deadline_text", "due_date",
                   "original_due_date", "ack_due_on", "progress_due_on", "created_at", "updated_at")
_EVENT_COLUMNS = ("finding_id", "at", "kind", "actor", "actor_id", "ip", "from_state", "to_state", "note", "data")


def _insert_new(session: Session, source: str, new_rows: list[Row], codes: dict[int, str],
                rounds: dict[str, tuple[int, str]], groups: dict[str, tuple[int, str]], stamp: datetime,
                actor: Actor, arrive: Arrival | None, on_progress: Progress | None, total: int) -> None:
    """New findings and their "import" events, in chunks (progress reported after each)."""
    if not new_rows:
        return
    findings = BulkInsert(session, Finding.__table__, _FINDING_COLUMNS)
    events = BulkInsert(session, Event.__table__, _EVENT_COLUMNS)
    ids = reserve_ids(session, Finding.__table__, len(new_rows))
    # Each event's data, {"source": …, "row": n}, as the JSON text json.dumps (SQLAlchemy's serializer) writes.
    data_head = json.dumps({"source": source, "row": 0})[:-2]
    round_ids = {k: v[0] for k, v in rounds.items()}
    group_ids = {k: v[0] for k, v in groups.items()}
    follow = {d: arrive(d) if arrive is not None else {"ack_due_on": None, "progress_due_on": None}
              for d in {r.due for r in new_rows}}
    ack_of = {d: v["ack_due_on"] for d, v in follow.items()}
    progress_of = {d: v["progress_due_on"] for d, v in follow.items()}
    fields = attrgetter("number", "code", "seq", "round_key", "group_key", "unit_id", "inspected_on", "problem",
                        "pkey", "opinion", "owner", "note", "kind", "days", "text", "due")
    step = 5000
    for i in range(0, len(new_rows), step):
        chunk = new_rows[i:i + step]
        n = len(chunk)
        fids = ids[i:i + step]
        (numbers, code, seq, round_key, group_key, unit_id, inspected, problem, pkey, opinion, owner, note, kind,
         days, text, due) = zip(*map(fields, chunk), strict=True)
        # Column by column, in _FINDING_COLUMNS order.
        findings.run_columns([
            fids, [c or codes[k] for c, k in zip(code, numbers, strict=True)], seq,
            list(map(round_ids.__getitem__, round_key)), [group_ids[k] if k else None for k in group_key],
            unit_id, inspected, problem, pkey, [v or "" for v in opinion], [v or "" for v in owner],
            [v or "" for v in note], kind, days, text, due, due, list(map(ack_of.__getitem__, due)),
            list(map(progress_of.__getitem__, due)), [stamp] * n, [stamp] * n])
        events.run_columns([
            fids, [stamp] * n, ["import"] * n, [actor.label] * n, [actor.person_id] * n, [actor.ip] * n, [None] * n,
            ["open"] * n, [""] * n, [f"{data_head}{k}}}" for k in numbers]], raw=("data",))
        if on_progress:
            on_progress("write", i + n, total)


def _apply(f: Finding, row: Row, diff: dict[str, list[Any]], groups: dict[str, tuple[int, str]]) -> None:
    if "unit_id" in diff:
        f.unit_id = row.unit_id
    if "group_id" in diff and row.group_key:
        f.group_id = groups[row.group_key][0]
        diff["group_id"][1] = f.group_id
    if "inspected_on" in diff:
        f.inspected_on = row.inspected_on
    if "problem" in diff:
        f.problem, f.problem_key = row.problem, row.pkey
    if "opinion" in diff:
        f.opinion = row.opinion or ""
    if "owner_name" in diff:
        f.owner_name = row.owner or ""
    if "note" in diff:
        f.note = row.note or ""
    if "due_date" in diff:
        f.deadline_kind, f.deadline_days, f.deadline_text = row.kind, row.days, row.text
        f.due_date = f.original_due_date = row.due


def _generated_codes(session: Session, new_rows: list[Row], rounds: dict[str, tuple[int, str]]) -> dict[int, str]:
    """R<round id>-<n> for rows without 编号, n counting on from the highest stored or typed one."""
    out: dict[int, str] = {}
    need: dict[int, list[Row]] = {}
    for r in new_rows:
        if not r.code:
            need.setdefault(rounds[r.round_key][0], []).append(r)
    typed = {c for c in map(attrgetter("code"), new_rows) if c.startswith("R")}  # only these can collide
    for round_id, todo in need.items():
        prefix = f"R{round_id}-"
        taken = set(session.scalars(select(Finding.code).where(Finding.code.like(prefix + "%"))))
        taken |= {c for c in typed if c.startswith(prefix)}
        numbers = [int(c[len(prefix):]) for c in taken if c[len(prefix):].isdigit()]
        n = max(numbers, default=0)
        for r in todo:
            n += 1
            while f"{prefix}{n:04d}" in taken:
                n += 1
            out[r.number] = f"{prefix}{n:04d}"
    return out
