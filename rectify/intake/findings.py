"""`findings import`: findings from a sheet, all or nothing, idempotent.

The whole file is read and checked in memory before anything is written. Any bad cell and the import
stops with `ImportRejected`, listing every bad cell (sheet row, header as typed, value, why); the
database is untouched. Otherwise everything is written in the caller's transaction with bulk inserts.

Matching a row to a stored finding (re-import):
1. by 编号 (Finding.code) when the row has one;
2. else (no 编号, or one not stored yet) by round + unit + Finding.problem_key, among findings no
   other row of the file claimed by 编号.
A matched row whose 问题描述, 整改意见, 整改时限, 责任人, 备注, 督导组, 督导日期 or 责任单位 differs updates
the finding and records an "update" event with the old and new values; a new row gets an "import"
event. A deadline is unchanged when it gives the stored due date or the original one (an extension
granted since is not undone; the ledger writes the current due date and reads back unchanged).

Rows without 编号 get a generated one: `R<round id>-<n>`, n counting on from the highest such code
(`R3-0001`, `R3-0002`, ...). It is stored, so a re-import (matched by problem text) keeps it.

Round (督导轮次), date (督导日期) and group (督导组) come from their columns; the options fill the
cells that are empty or the columns that are missing. Rounds and groups are created when new.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from models import Event, Finding, Round, SupervisionGroup, Unit
from rectify.core.deadlines import DeadlineKind, due_date
from rectify.core.followup import FollowupRules
from rectify.core.workcal import CalendarError, WorkCalendar
from rectify.intake.cells import (
    CellError,
    cell_text,
    fold,
    parse_date,
    parse_deadline,
    parse_int,
    problem_key,
    rule_days,
    squeeze,
    unit_key,
)
from rectify.intake.errors import ImportRejected, IntakeError, RowError, shown
from rectify.intake.headers import finding_spec
from rectify.intake.read import Source, read_table
from rectify.services.findings import SYSTEM, Actor, record_event
from rectify.services.followup import Arrival, mark_arrival

Progress = Callable[[str, int, int | None], None]
CHUNK = 5000
_LIMITS = {"code": 64, "round": 200, "group": 100, "owner": 100}


@dataclass
class FindingImport:
    """What an import did, or (dry run) would do."""

    source: str
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    by_unit: dict[str, Counter[str]] = field(default_factory=dict)  # unit name → created/updated/unchanged
    new_rounds: list[str] = field(default_factory=list)
    new_groups: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def tally(self, unit: str, what: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        self.by_unit.setdefault(unit, Counter())[what] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "dry_run": self.dry_run, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged,
                "by_unit": {k: dict(v) for k, v in self.by_unit.items()},
                "new_rounds": self.new_rounds, "new_groups": self.new_groups,
                "ignored_columns": self.ignored_columns}


class UnitMatcher:
    """Unit names and aliases → unit id, compared as `unit_key` does; unknown names get suggestions."""

    def __init__(self, units: Iterable[tuple[int, str, list[str] | None]], county_prefix: str = ""):
        self.prefix = county_prefix
        self.names: dict[int, str] = {}
        self.keys: dict[str, set[int]] = {}
        for uid, name, aliases in units:
            self.names[uid] = name
            for n in (name, *(aliases or [])):
                self.keys.setdefault(unit_key(n, county_prefix), set()).add(uid)
        self._cache: dict[str, int | CellError] = {}

    def match(self, text: str) -> int:
        hit = self._cache.get(text)
        if hit is None:
            hit = self._cache[text] = self._match(text)
        if isinstance(hit, CellError):
            raise hit
        return hit

    def _match(self, text: str) -> int | CellError:
        ids = self.keys.get(unit_key(text, self.prefix))
        if ids and len(ids) == 1:
            return next(iter(ids))
        if ids:
            return CellError("ambiguous_unit", names="、".join(sorted(self.names[i] for i in ids)))
        key = unit_key(text, self.prefix)
        close = [k for k in self.keys if len(key) >= 2 and (key in k or k in key)][:3]
        close += difflib.get_close_matches(key, list(self.keys), n=3, cutoff=0.4)
        names = list(dict.fromkeys(self.names[i] for k in close for i in sorted(self.keys[k])))
        if names:
            return CellError("unknown_unit_hint", names="、".join(names[:3]))
        return CellError("unknown_unit")


@dataclass(slots=True)
class _Row:
    number: int
    code: str
    seq: int | None
    round_key: str
    round_name: str
    group_key: str | None
    group_name: str | None
    inspected_on: date
    unit_id: int
    problem: str
    pkey: str
    opinion: str | None  # None: no such column, keep what is stored
    owner: str | None
    note: str | None
    kind: str
    days: int | None
    text: str
    due: date | None


class _Ident(NamedTuple):
    """What makes a row one finding: enough to tell duplicates even on a row with other bad cells."""

    number: int
    code: str
    round_key: str
    unit_id: int
    pkey: str
    problem: str


_Stored = Any  # a Row of _STORED_COLUMNS
_STORED_COLUMNS = (Finding.id, Finding.code, Finding.round_id, Finding.unit_id, Finding.group_id,
                   Finding.inspected_on, Finding.problem, Finding.problem_key, Finding.opinion, Finding.owner_name,
                   Finding.note, Finding.deadline_kind, Finding.due_date, Finding.original_due_date)


def import_findings(session: Session, source: Source, *, calendar: WorkCalendar, now: datetime,
                    filename: str | None = None, sheet: str | None = None, round_name: str | None = None,
                    inspected_on: date | None = None, group_name: str | None = None, dry_run: bool = False,
                    county_prefix: str = "", immediate_days: int = 3, actor: Actor = SYSTEM,
                    on_progress: Progress | None = None, followup: FollowupRules | None = None,
                    today: date | None = None) -> FindingImport:
    """Read, check and (unless dry_run) write findings. Raises IntakeError / ImportRejected; the caller commits."""
    spec = finding_spec()
    table = read_table(source, spec, filename=filename, sheet=sheet)
    header = table.header
    required = ["unit", "problem", "deadline"]
    if not (round_name or "").strip():
        required.insert(0, "round")
    if inspected_on is None:
        required.insert(1 if "round" in required else 0, "date")
    missing = [spec.title(k) for k in required if k not in header.columns]
    if missing:
        raise IntakeError("missing_columns", name=table.name, columns="、".join(missing))
    report = FindingImport(table.name, dry_run=dry_run, ignored_columns=header.ignored)

    units = UnitMatcher(session.execute(select(Unit.id, Unit.name, Unit.aliases)), county_prefix)
    rows, errors, idents = _parse(table, header, units, calendar, immediate_days, round_name, inspected_on,
                                  group_name, report, on_progress)
    if not rows and not errors:
        raise IntakeError("no_rows", name=table.name)
    errors.extend(_duplicates(idents, header))

    rounds = {squeeze(n): (i, n) for i, n in session.execute(select(Round.id, Round.name))}
    groups = {squeeze(n): (i, n) for i, n in session.execute(select(SupervisionGroup.id, SupervisionGroup.name))}
    matches, foreign = _match(session, rows, rounds)
    for row in rows:
        if row.code in foreign and matches.get(row.number) is None:
            errors.append(RowError(row.number, header.typed.get("code", ""), row.code, "code_other_round",
                                   {"round": foreign[row.code]}))
    if errors:
        raise ImportRejected(table.name, errors, report)

    changes: dict[int, dict[str, list[Any]]] = {}
    for row in rows:
        stored = matches.get(row.number)
        unit = units.names[row.unit_id]
        if stored is None:
            report.tally(unit, "created")
            continue
        diff = _diff(row, stored, groups)
        if diff:
            changes[row.number] = diff
            report.tally(unit, "updated")
        else:
            report.tally(unit, "unchanged")
    report.new_rounds = list(dict.fromkeys(r.round_name for r in rows if r.round_key not in rounds))
    report.new_groups = list(dict.fromkeys(r.group_name for r in rows
                                           if r.group_key and r.group_name and r.group_key not in groups))
    if dry_run:
        return report

    # 签收 and 进展反馈 start on the day the findings arrive (the office's local day, when given).
    arrive = Arrival(today or now.date(), calendar, followup) if followup is not None else None
    _write(session, table.name, rows, matches, changes, rounds, groups, now, actor, on_progress, arrive)
    return report



def _parse(table: Any, header: Any, units: UnitMatcher, cal: WorkCalendar, immediate_days: int,
           round_option: str | None, date_option: date | None, group_option: str | None, report: FindingImport,
           on_progress: Progress | None) -> tuple[list[_Row], list[RowError], list[_Ident]]:
    rows: list[_Row] = []
    errors: list[RowError] = []
    idents: list[_Ident] = []  # every row whose identity reads, bad other cells or not: duplicates are told at once
    cols = header.columns
    typed = header.typed
    option_title = {"round": "--round", "date": "--date", "group": "--group"}
    fields = [k for k in ("code", "round", "group", "date", "unit", "problem", "opinion", "deadline", "owner", "note")
              if k in cols]
    round_option = " ".join((round_option or "").split()) or None
    group_option = " ".join((group_option or "").split()) or None
    # Many rows share a date, a deadline, a round: each distinct cell is read once.
    deadlines: dict[tuple[Any, date | None], Any] = {}
    dates: dict[Any, date | CellError] = {}
    keys: dict[str, str] = {}
    seq_col = cols.get("seq")

    def bad(number: int, key: str, value: Any, code: str, **params: Any) -> None:
        errors.append(RowError(number, typed.get(key) or option_title.get(key, ""), shown(value), code, params))

    for number, cells in table.rows:
        width = len(cells)
        v = {k: cells[cols[k]] if cols[k] < width else None for k in fields}
        if all(x is None or (isinstance(x, str) and not x.strip()) for x in v.values()):
            continue
        report.rows += 1
        if on_progress and report.rows % 1000 == 0:
            on_progress("read", report.rows, table.estimated_rows)
        n_errors = len(errors)

        code = fold(cell_text(v.get("code")))
        texts = {k: " ".join(cell_text(v.get(k)).split()) for k in ("round", "group", "owner")}
        round_text = texts["round"] or round_option or ""
        group_text = texts["group"] or group_option or ""
        for key, value in (("code", code), ("round", round_text), ("group", group_text), ("owner", texts["owner"])):
            if len(value) > _LIMITS[key]:
                bad(number, key, value, "too_long", limit=_LIMITS[key])
        if not round_text:
            bad(number, "round", "", "required")

        day: date | None = None
        raw_date = v.get("date")
        if raw_date is None or (isinstance(raw_date, str) and not raw_date.strip()):
            day = date_option
            if day is None:
                bad(number, "date", "", "required")
        else:
            got = dates.get(raw_date)
            if got is None:
                try:
                    got = dates[raw_date] = parse_date(raw_date)
                except CellError as exc:
                    got = dates[raw_date] = exc
            if isinstance(got, CellError):
                bad(number, "date", raw_date, got.code, **got.params)
            else:
                day = got

        unit_id = 0
        unit_text = " ".join(cell_text(v.get("unit")).split())
        if not unit_text:
            bad(number, "unit", "", "required")
        else:
            try:
                unit_id = units.match(unit_text)
            except CellError as exc:
                bad(number, "unit", unit_text, exc.code, **exc.params)

        problem = cell_text(v.get("problem"))
        if not problem:
            bad(number, "problem", "", "required")
        round_key = keys.get(round_text) or keys.setdefault(round_text, squeeze(round_text))
        pkey = problem_key(problem)
        if round_text and unit_id and problem and len(code) <= _LIMITS["code"]:
            idents.append(_Ident(number, code, round_key, unit_id, pkey, problem))

        raw_deadline = v.get("deadline")
        dl_key = (raw_deadline, day)
        parsed = deadlines.get(dl_key)
        if parsed is None:
            parsed = deadlines[dl_key] = _deadline(raw_deadline, day, cal, immediate_days)
        if isinstance(parsed, CellError):
            bad(number, "deadline", raw_deadline, parsed.code, **parsed.params)

        if len(errors) > n_errors or day is None:
            continue
        rule, text, due = parsed
        group_key = (keys.get(group_text) or keys.setdefault(group_text, squeeze(group_text))) if group_text else None
        rows.append(_Row(
            number=number, code=code,
            seq=parse_int(cells[seq_col]) if seq_col is not None and seq_col < width else None,
            round_key=round_key, round_name=round_text, group_key=group_key, group_name=group_text or None,
            inspected_on=day, unit_id=unit_id, problem=problem, pkey=pkey,
            opinion=cell_text(v.get("opinion")) if "opinion" in cols else None,
            owner=texts["owner"] if "owner" in cols else None,
            note=cell_text(v.get("note")) if "note" in cols else None,
            kind=rule.kind.value, days=rule_days(rule), text=text, due=due))
    if on_progress:
        on_progress("read", report.rows, report.rows)
    return rows, errors, idents


def _deadline(raw: Any, day: date | None, cal: WorkCalendar, immediate_days: int) -> Any:
    try:
        deadline = parse_deadline(raw, day)
    except CellError as exc:
        return exc
    if day is None:
        return (deadline.rule, deadline.text, None)
    try:
        due = due_date(deadline.rule, day, cal, immediate_days)
    except CalendarError:
        year = day.year if day.year not in cal.years else day.year + 1
        return CellError("calendar", year=year)
    return (deadline.rule, deadline.text, date(due.year, due.month, due.day) if due is not None else None)


def _duplicates(rows: list[_Ident], header: Any) -> list[RowError]:
    """Two rows of one file that are one finding: the same 编号, or the same round, unit and problem
    where at least one of them has no 编号."""
    errors: list[RowError] = []
    by_code: dict[str, int] = {}
    by_key: dict[tuple[str, int, str], tuple[int, str]] = {}
    for row in rows:
        if row.code:
            first = by_code.setdefault(row.code, row.number)
            if first != row.number:
                errors.append(RowError(row.number, header.typed.get("code", ""), row.code, "duplicate_code",
                                       {"other": first}))
                continue
        key = (row.round_key, row.unit_id, row.pkey)
        seen = by_key.get(key)
        if seen is None:
            by_key[key] = (row.number, row.code)
        elif not (row.code and seen[1]):
            errors.append(RowError(row.number, header.typed.get("problem", ""), shown(row.problem), "duplicate_row",
                                   {"other": seen[0]}))
    return errors


def _match(session: Session, rows: list[_Row], rounds: dict[str, tuple[int, str]]
           ) -> tuple[dict[int, _Stored], dict[str, str]]:
    """Stored findings the rows are (row number → stored columns), and 编号 held by other rounds."""
    round_ids = sorted({rounds[r.round_key][0] for r in rows if r.round_key in rounds})
    stored: list[_Stored] = []
    for i in range(0, len(round_ids), 500):
        stored.extend(session.execute(select(*_STORED_COLUMNS).where(Finding.round_id.in_(round_ids[i:i + 500]))))
    by_code = {s.code: s for s in stored}
    by_key: dict[tuple[int, int, str], list[_Stored]] = {}
    for s in sorted(stored, key=lambda s: s.id):
        by_key.setdefault((s.round_id, s.unit_id, s.problem_key), []).append(s)

    matches: dict[int, _Stored] = {}
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


def _diff(row: _Row, s: _Stored, groups: dict[str, tuple[int, str]]) -> dict[str, list[Any]]:
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


def _write(session: Session, source: str, rows: list[_Row], matches: dict[int, _Stored],
           changes: dict[int, dict[str, list[Any]]], rounds: dict[str, tuple[int, str]],
           groups: dict[str, tuple[int, str]], now: datetime, actor: Actor, on_progress: Progress | None,
           arrive: Arrival | None = None) -> None:
    new_rows = [r for r in rows if r.number not in matches]
    # Rounds and groups first: few rows, plain ORM.
    started: dict[str, date] = {}
    for r in rows:
        if r.round_key not in rounds:
            started[r.round_key] = min(started.get(r.round_key, r.inspected_on), r.inspected_on)
    made_rounds = {}
    for r in rows:
        if r.round_key not in rounds and r.round_key not in made_rounds:
            made_rounds[r.round_key] = Round(name=r.round_name, started_on=started[r.round_key])
            session.add(made_rounds[r.round_key])
    made_groups = {}
    for r in rows:
        if r.group_key and r.group_name and r.group_key not in groups and r.group_key not in made_groups:
            made_groups[r.group_key] = SupervisionGroup(name=r.group_name)
            session.add(made_groups[r.group_key])
    session.flush()
    rounds.update({k: (o.id, o.name) for k, o in made_rounds.items()})
    groups.update({k: (o.id, o.name) for k, o in made_groups.items()})

    codes = _generated_codes(session, new_rows, rounds)
    stamp = datetime.fromtimestamp(now.timestamp(), UTC)  # a plain datetime binds faster than pendulum's
    total = len(new_rows) + len(changes)
    done = 0
    for i in range(0, len(new_rows), CHUNK):
        chunk = new_rows[i:i + CHUNK]
        values = [{
            "code": r.code or codes[r.number], "seq": r.seq, "round_id": rounds[r.round_key][0],
            "group_id": groups[r.group_key][0] if r.group_key else None, "unit_id": r.unit_id,
            "inspected_on": r.inspected_on, "problem": r.problem, "problem_key": r.pkey,
            "opinion": r.opinion or "", "owner_name": r.owner or "", "note": r.note or "",
            "deadline_kind": r.kind, "deadline_days": r.days, "deadline_text": r.text,
            "due_date": r.due, "original_due_date": r.due, "state": "open", "level": 0, "extensions_used": 0,
            "measures": "", "progress": "", "version": 1, "created_at": stamp, "updated_at": stamp,
            **(arrive(r.due) if arrive is not None else {}),
        } for r in chunk]
        # Core executemany: the ORM's bulk insert with RETURNING goes row by row on SQLite.
        session.execute(insert(Finding.__table__), values)
        ids = _ids_of(session, [v["code"] for v in values])
        session.execute(insert(Event.__table__), [{
            "finding_id": ids[v["code"]], "at": stamp, "kind": "import", "actor": actor.label,
            "actor_id": actor.person_id, "ip": actor.ip, "from_state": None, "to_state": "open", "note": "",
            "data": {"source": source, "row": r.number},
        } for r, v in zip(chunk, values, strict=True)])
        done += len(chunk)
        if on_progress:
            on_progress("write", done, total)

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


def _ids_of(session: Session, codes: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i in range(0, len(codes), 900):  # within SQLite's bound-parameter limit everywhere
        ids.update(session.execute(select(Finding.code, Finding.id).where(Finding.code.in_(codes[i:i + 900]))).all())
    return ids


def _apply(f: Finding, row: _Row, diff: dict[str, list[Any]], groups: dict[str, tuple[int, str]]) -> None:
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


def _generated_codes(session: Session, new_rows: list[_Row], rounds: dict[str, tuple[int, str]]) -> dict[int, str]:
    """R<round id>-<n> for rows without 编号, n counting on from the highest stored or typed one."""
    out: dict[int, str] = {}
    need: dict[int, list[_Row]] = {}
    for r in new_rows:
        if not r.code:
            need.setdefault(rounds[r.round_key][0], []).append(r)
    typed = {r.code for r in new_rows if r.code}
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
