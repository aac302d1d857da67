"""`ledger export`: the 整改台账 workbook, one row per finding, plus a per-unit summary sheet.

Columns (labels.toml [ledger]): 序号, 编号, 督导轮次, 督导组, 督导日期, 责任单位, 问题描述, 整改意见, 整改时限,
责任人, 备注, 状态, 逾期工作日, 已达督办级别, 整改情况, 销号时间. The first eleven are exactly what
`findings import` reads, so the ledger imports back without errors or changes: 督导日期 and 整改时限
are real date cells (整改时限 is the current due date; 长期坚持 is written as such), and the rest is ignored
by the importer. Text is written as text: a problem starting with "=" never becomes a formula.

逾期工作日 is counted to `as_of` (a parameter: the CLI passes the runtime's today unless --as-of).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import pendulum
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from models import Finding, Round, SupervisionGroup, Unit
from rectify.core.ladder import Step, is_overdue
from rectify.core.lifecycle import State
from rectify.core.workcal import WorkCalendar
from rectify.intake.cells import squeeze
from rectify.intake.errors import IntakeError
from rectify.templating import labels

# (labels key, column width) in sheet order.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("seq", 6), ("code", 14), ("round", 18), ("group", 12), ("date", 12), ("unit", 22), ("problem", 50),
    ("opinion", 40), ("deadline", 12), ("owner", 10), ("note", 20), ("state", 8), ("overdue_days", 11),
    ("level", 13), ("progress", 40), ("closed_at", 17),
)
SUMMARY_COLUMNS: tuple[tuple[str, int], ...] = (
    ("unit", 24), ("found", 10), ("closed", 10), ("overdue", 12), ("rate", 12),
)
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclass
class UnitTotals:
    name: str
    found: int = 0  # cancelled findings are not counted
    closed: int = 0
    overdue: int = 0

    @property
    def rate(self) -> float:
        return self.closed / self.found if self.found else 0.0


@dataclass
class LedgerExport:
    rows: int = 0
    units: list[UnitTotals] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "units": len(self.units)}


def resolve_states(values: Iterable[str]) -> list[str]:
    """State keys from keys or labels (open, 未整改, ...); IntakeError names the valid ones."""
    names = labels()["state"]
    by_label = {squeeze(v): k for k, v in names.items()}
    out = []
    for value in values:
        key = squeeze(value)
        key = key if key in names else by_label.get(key, "")
        if not key:
            raise IntakeError("bad_state", value=value, names="、".join(f"{k}/{v}" for k, v in names.items()))
        out.append(key)
    return out


def _text(ws: Any, value: str | None) -> Any:
    if not value:
        return None  # an empty cell, not an empty string
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # text, never a formula
        return cell
    return value


def _dated(ws: Any, value: date | datetime | None, fmt: str) -> Any:
    if value is None:
        return None
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = fmt
    return cell


def _header(ws: Any, columns: tuple[tuple[str, int], ...], words: dict[str, str]) -> None:
    bold = Font(bold=True)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    cells = []
    for key, _ in columns:
        c = WriteOnlyCell(ws, value=words[key])
        c.font, c.alignment = bold, centre
        cells.append(c)
    ws.append(cells)


def export_ledger(session: Session, dest: Path | str | IO[bytes], *, calendar: WorkCalendar, as_of: date,
                  ladder: tuple[Step, ...] = (), round_name: str | None = None, states: Iterable[str] = (),
                  timezone: str = "Asia/Shanghai") -> LedgerExport:
    """Write the ledger workbook to `dest` (a path or a binary stream)."""
    words = labels()["ledger"]
    state_words = labels()["state"]
    level_words = labels()["level"]
    tz = pendulum.timezone(timezone)
    wanted = resolve_states(states)

    group = aliased(SupervisionGroup)
    query = (select(Finding.code, Round.name, group.name, Finding.inspected_on, Unit.id, Unit.name, Finding.problem,
                    Finding.opinion, Finding.due_date, Finding.owner_name, Finding.note,
                    Finding.state, Finding.level, Finding.measures, Finding.progress, Finding.closed_at)
             .join(Round, Round.id == Finding.round_id).join(Unit, Unit.id == Finding.unit_id)
             .outerjoin(group, group.id == Finding.group_id)
             .order_by(Round.id, Finding.id))
    if round_name:
        rid = session.scalar(select(Round.id).where(Round.name == round_name.strip()))
        if rid is None:
            names = "、".join(session.scalars(select(Round.name).order_by(Round.id))) or "—"
            raise IntakeError("no_round", name=round_name, names=names)
        query = query.where(Finding.round_id == rid)
    if wanted:
        query = query.where(Finding.state.in_(wanted))

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(words["sheet"])
    _header(ws, COLUMNS, words)
    report = LedgerExport()
    totals: dict[int, UnitTotals] = {}
    lateness: dict[date, int] = {}
    for (code, round_, group_name, inspected, unit_id, unit, problem, opinion, due, owner, note, state,
         level, measures, progress, closed_at) in session.execute(query.execution_options(yield_per=2000)):
        report.rows += 1
        t = totals.get(unit_id)
        if t is None:
            t = totals[unit_id] = UnitTotals(unit)
        overdue_days = None
        if state in (State.OPEN, State.REJECTED) and due is not None:
            overdue_days = 0
            if is_overdue(state, due, as_of):
                if due not in lateness:
                    lateness[due] = calendar.working_days_between(due, as_of)
                overdue_days = lateness[due]
                t.overdue += 1
        if state != State.CANCELLED:
            t.found += 1
        if state == State.CLOSED:
            t.closed += 1
        deadline = (_text(ws, labels()["deadline"]["long_term"]) if due is None
                    else _dated(ws, due, DATE_FORMAT))
        step_kind = ladder[level - 1].kind if 0 < level <= len(ladder) else None
        closed_local = closed_at.astimezone(tz).replace(tzinfo=None) if closed_at else None
        ws.append([
            report.rows, _text(ws, code), _text(ws, round_), _text(ws, group_name or ""),
            _dated(ws, inspected, DATE_FORMAT), _text(ws, unit), _text(ws, problem), _text(ws, opinion),
            deadline, _text(ws, owner), _text(ws, note), state_words.get(state, state), overdue_days,
            level_words.get(step_kind, "") if step_kind else "", _text(ws, progress or measures),
            _dated(ws, closed_local, DATETIME_FORMAT),
        ])
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{report.rows + 1}"

    order = {uid: (so, name) for uid, so, name in session.execute(select(Unit.id, Unit.sort_order, Unit.name))}
    report.units = [totals[uid] for uid in sorted(totals, key=lambda u: order[u])]
    summary = wb.create_sheet(words["summary_sheet"])
    _header(summary, SUMMARY_COLUMNS, words)
    for t in [*report.units, _sum(words["total"], report.units)]:
        rate = WriteOnlyCell(summary, value=round(t.rate, 4))
        rate.number_format = "0.0%"
        summary.append([_text(summary, t.name), t.found, t.closed, t.overdue, rate])
    summary.auto_filter.ref = f"A1:{get_column_letter(len(SUMMARY_COLUMNS))}{len(report.units) + 1}"
    wb.save(dest)
    return report


def _sum(name: str, units: list[UnitTotals]) -> UnitTotals:
    return UnitTotals(name, sum(u.found for u in units), sum(u.closed for u in units),
                      sum(u.overdue for u in units))
