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

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import repeat
from operator import attrgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Round, SupervisionGroup, Unit
from rectify.core.followup import FollowupRules
from rectify.core.workcal import WorkCalendar
from rectify.intake.cells import squeeze
from rectify.intake.errors import ImportRejected, IntakeError, RowError
from rectify.intake.finding_columns import clean_rows
from rectify.intake.finding_rows import Progress, UnitMatcher, duplicates, parse_rows
from rectify.intake.finding_store import diff_row, match_rows, write_rows
from rectify.intake.headers import finding_spec
from rectify.intake.read import ReadAhead, Source, read_table
from rectify.memory import collector_paused
from rectify.services.findings import SYSTEM, Actor
from rectify.services.followup import Arrival

__all__ = ["FindingImport", "Progress", "UnitMatcher", "import_findings"]


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

    def count(self, outcome: Counter[tuple[int, str]], names: dict[int, str]) -> None:
        """Add (unit id, created/updated/unchanged) counts, units in the order the sheet names them."""
        for (unit_id, what), n in outcome.items():
            setattr(self, what, getattr(self, what) + n)
            self.by_unit.setdefault(names[unit_id], Counter())[what] += n

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "dry_run": self.dry_run, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged,
                "by_unit": {k: dict(v) for k, v in self.by_unit.items()},
                "new_rounds": self.new_rounds, "new_groups": self.new_groups,
                "ignored_columns": self.ignored_columns}


def import_findings(session: Session, source: Source | ReadAhead, *, calendar: WorkCalendar, now: datetime,
                    filename: str | None = None, sheet: str | None = None, round_name: str | None = None,
                    inspected_on: date | None = None, group_name: str | None = None, dry_run: bool = False,
                    county_prefix: str = "", immediate_days: int = 3, actor: Actor = SYSTEM,
                    on_progress: Progress | None = None, followup: FollowupRules | None = None,
                    today: date | None = None) -> FindingImport:
    """Read, check and (unless dry_run) write findings. Raises IntakeError / ImportRejected; the caller commits."""
    with collector_paused():
        return _import(session, source, calendar=calendar, now=now, filename=filename, sheet=sheet,
                       round_name=round_name, inspected_on=inspected_on, group_name=group_name, dry_run=dry_run,
                       county_prefix=county_prefix, immediate_days=immediate_days, actor=actor,
                       on_progress=on_progress, followup=followup, today=today)


def _import(session: Session, source: Source | ReadAhead, *, calendar: WorkCalendar, now: datetime,
            filename: str | None, sheet: str | None, round_name: str | None, inspected_on: date | None,
            group_name: str | None, dry_run: bool, county_prefix: str, immediate_days: int, actor: Actor,
            on_progress: Progress | None, followup: FollowupRules | None, today: date | None) -> FindingImport:
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
    table.rows = list(table.rows)  # read twice when a bad cell sends the sheet to the row-by-row reading
    args = (table, units, calendar, immediate_days, round_name, inspected_on, group_name, on_progress)
    rows, errors, idents, report.rows = clean_rows(*args) or parse_rows(*args)
    if not rows and not errors:
        raise IntakeError("no_rows", name=table.name)
    errors.extend(duplicates(idents, header))

    rounds = {squeeze(n): (i, n) for i, n in session.execute(select(Round.id, Round.name))}
    groups = {squeeze(n): (i, n) for i, n in session.execute(select(SupervisionGroup.id, SupervisionGroup.name))}
    matches, foreign = match_rows(session, rows, rounds)
    for row in rows:
        if row.code in foreign and matches.get(row.number) is None:
            errors.append(RowError(row.number, header.typed.get("code", ""), row.code, "code_other_round",
                                   {"round": foreign[row.code]}))
    if errors:
        raise ImportRejected(table.name, errors, report)

    changes: dict[int, dict[str, list[Any]]] = {}
    outcome: list[tuple[int, str]] = []
    if not matches:  # a first import: every row is created; counted at C speed, units in sheet order
        outcome = list(zip(map(attrgetter("unit_id"), rows), repeat("created", len(rows)), strict=True))
    else:
        for row in rows:
            stored = matches.get(row.number)
            if stored is None:
                outcome.append((row.unit_id, "created"))
                continue
            diff = diff_row(row, stored, groups)
            if diff:
                changes[row.number] = diff
                outcome.append((row.unit_id, "updated"))
            else:
                outcome.append((row.unit_id, "unchanged"))
    report.count(Counter(outcome), units.names)
    # Over the distinct (key, name) pairs, in sheet order, not every row: the same names in the same order.
    round_pairs = dict.fromkeys(map(attrgetter("round_key", "round_name"), rows))
    group_pairs = dict.fromkeys(map(attrgetter("group_key", "group_name"), rows))
    report.new_rounds = list(dict.fromkeys(name for key, name in round_pairs if key not in rounds))
    report.new_groups = list(dict.fromkeys(name for key, name in group_pairs if key and name and key not in groups))
    if dry_run:
        return report

    # 签收 and 进展反馈 start on the day the findings arrive (the office's local day, when given).
    arrive = Arrival(today or now.date(), calendar, followup) if followup is not None else None
    write_rows(session, table.name, rows, matches, changes, rounds, groups, now, actor, on_progress, arrive)
    return report

