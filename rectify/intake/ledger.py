"""`ledger export`: the 整改台账 workbook, one row per finding, plus a per-unit summary sheet.

Columns (labels.toml [ledger]): 序号, 编号, 督导轮次, 督导组, 督导日期, 责任单位, 问题描述, 整改意见, 现整改时限,
责任人, 备注, then 原整改时限, 延期次数, 状态, 预警, 逾期工作日, 按原时限逾期工作日, 已达督办级别, 反弹次数, 整改情况,
销号时间, 签收时间, 最新进展 (the newest 阶段性进展 with its day). The first eleven are exactly what
`findings import` reads (it takes 现整改时限 as its 整改时限), so the
ledger imports back without errors or changes: 督导日期 and the deadlines are real date cells (长期坚持 is
written as such), and the rest is ignored by the importer. Text is written as text: a problem starting
with "=" never becomes a formula.

Lateness and colours are taken on `as_of` (a parameter: the CLI passes the runtime's today unless --as-of),
against the current deadline and against the original one (rectify.core.lateness). The summary sheet
covers the rows exported; a unit's 预警 is its worst finding's (rectify.core.colours).
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
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from models import Finding, ProgressReport, Round, SupervisionGroup, Unit
from rectify.config import SupervisionSettings
from rectify.core.ladder import Step, is_overdue
from rectify.core.lateness import done_on_time, original_of
from rectify.core.lifecycle import State
from rectify.core.palette import Palette
from rectify.core.workcal import CalendarError, WorkCalendar
from rectify.intake.cells import squeeze
from rectify.intake.errors import IntakeError
from rectify.services.colours import refused_extension_ids
from rectify.templating import labels

# (labels key, column width) in sheet order.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("seq", 6), ("code", 14), ("round", 18), ("group", 12), ("date", 12), ("unit", 22), ("problem", 50),
    ("opinion", 40), ("current_deadline", 12), ("owner", 10), ("note", 20), ("original_deadline", 12),
    ("extensions", 9), ("state", 8), ("colour", 10), ("overdue_days", 11), ("overdue_days_original", 13),
    ("level", 13), ("reopens", 9), ("progress", 40), ("closed_at", 17), ("ack_at", 17), ("latest_progress", 40),
)
SUMMARY_COLUMNS: tuple[tuple[str, int], ...] = (
    ("unit", 24), ("colour", 10), ("found", 10), ("closed", 10), ("on_time", 10), ("on_time_original", 12),
    ("overdue", 12), ("overdue_original", 14), ("rate", 12),
)
FILLS = {"blue": "BDD7EE", "yellow": "FFE699", "red": "F4B6B6"}  # light enough to print in black and white
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclass
class UnitTotals:
    name: str
    found: int = 0  # cancelled findings are not counted
    closed: int = 0
    overdue: int = 0  # unfinished and past the current deadline
    on_time: int = 0  # closed, done by the current deadline
    on_time_original: int = 0  # closed, done by the original deadline
    overdue_original: int = 0  # unfinished and past the original deadline
    colour: str | None = None  # rectify.core.colours key (blue/yellow/red) or None
    colours: list[str | None] = field(default_factory=list, repr=False)

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


def _colour_styles(wb: Workbook) -> None:
    """One named, shaded style per colour (named after its label): setting a named style on each cell is
    several times faster than a fill per cell, and the office finds the styles in Excel's gallery."""
    for key, fill in FILLS.items():
        wb.add_named_style(NamedStyle(name=labels()["colour"][key], fill=PatternFill("solid", fgColor=fill)))


def _colour(ws: Any, colour: str | None) -> Any:
    if colour is None:
        return None
    name = labels()["colour"][colour]
    cell = WriteOnlyCell(ws, value=name)
    cell.style = name
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
                  timezone: str = "Asia/Shanghai", supervision: SupervisionSettings | None = None) -> LedgerExport:
    """Write the ledger workbook to `dest` (a path or a binary stream). Without a ladder there are no colours."""
    words = labels()["ledger"]
    state_words = labels()["state"]
    level_words = labels()["level"]
    tz = pendulum.timezone(timezone)
    wanted = resolve_states(states)

    group = aliased(SupervisionGroup)
    query = (select(Finding.code, Round.name, group.name, Finding.inspected_on, Unit.id, Unit.name, Finding.problem,
                    Finding.opinion, Finding.due_date, Finding.owner_name, Finding.note,
                    Finding.state, Finding.level, Finding.measures, Finding.progress, Finding.closed_at,
                    Finding.id, Finding.original_due_date, Finding.extensions_used, Finding.reopen_count,
                    Finding.reported_at, Finding.acknowledged_at)
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
    _colour_styles(wb)
    ws = wb.create_sheet(words["sheet"])
    _header(ws, COLUMNS, words)
    report = LedgerExport()
    totals: dict[int, UnitTotals] = {}
    lateness: dict[date, int] = {}
    sv = supervision or SupervisionSettings()
    palette = (Palette.from_settings(sv, today=as_of, cal=calendar, ladder=ladder) if ladder else None)
    refused = refused_extension_ids(session) if palette else set()
    long_term = labels()["deadline"]["long_term"]
    latest = _latest_progress(session, tz)

    def late(state: str, d: date | None) -> int | None:
        """Working days past `d` on as_of for what the unit still owes (0: not late), else None."""
        if state not in (State.OPEN, State.REJECTED) or d is None:
            return None
        if not is_overdue(state, d, as_of):
            return 0
        if d not in lateness:
            try:
                lateness[d] = calendar.working_days_between(d, as_of)
            except CalendarError:  # a date no calendar covers: the cell stays empty, the export goes on
                lateness[d] = None  # type: ignore[assignment]
        return lateness[d]

    def deadline_cell(d: date | None, provisional: bool = False) -> Any:
        # A date resting on a provisional calendar year stays a date; its format shows （暂定）.
        return (_text(ws, long_term) if d is None
                else _dated(ws, d, DATE_FORMAT + '"（暂定）"' if provisional else DATE_FORMAT))

    def tentative(d: date | None) -> bool:
        return bool(calendar.provisional) and d is not None and (
            calendar.is_provisional(d) or calendar.provisional_between(d, as_of))

    for (code, round_, group_name, inspected, unit_id, unit, problem, opinion, due, owner, note, state,
         level, measures, progress, closed_at, fid, original, extensions, reopens, reported_at,
         acked_at) in session.execute(
            query.execution_options(yield_per=2000)):
        report.rows += 1
        t = totals.get(unit_id)
        if t is None:
            t = totals[unit_id] = UnitTotals(unit)
        original = original_of(due, original)
        overdue_days, overdue_original = late(state, due), late(state, original)
        t.overdue += is_overdue(state, due, as_of)
        t.overdue_original += is_overdue(state, original, as_of)
        if state != State.CANCELLED:
            t.found += 1
        if state == State.CLOSED:
            t.closed += 1
            done = pendulum.instance(reported_at or closed_at).in_timezone(tz).date() if closed_at else None
            t.on_time += done_on_time(done, due)
            t.on_time_original += done_on_time(done, original)
        colour = (palette.finding(state=state, due=due, level=level, extension_refused=fid in refused)
                  if palette else None)
        t.colours.append(colour)
        step_kind = ladder[level - 1].kind if 0 < level <= len(ladder) else None
        closed_local = closed_at.astimezone(tz).replace(tzinfo=None) if closed_at else None
        ws.append([
            report.rows, _text(ws, code), _text(ws, round_), _text(ws, group_name or ""),
            _dated(ws, inspected, DATE_FORMAT), _text(ws, unit), _text(ws, problem), _text(ws, opinion),
            deadline_cell(due, tentative(due)), _text(ws, owner), _text(ws, note), deadline_cell(original), extensions,
            state_words.get(state, state), _colour(ws, colour), overdue_days, overdue_original,
            level_words.get(step_kind, "") if step_kind else "", reopens, _text(ws, progress or measures),
            _dated(ws, closed_local, DATETIME_FORMAT),
            _dated(ws, acked_at.astimezone(tz).replace(tzinfo=None) if acked_at else None, DATETIME_FORMAT),
            _text(ws, latest.get(fid)),
        ])
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{report.rows + 1}"

    order = {uid: (so, name) for uid, so, name in session.execute(select(Unit.id, Unit.sort_order, Unit.name))}
    report.units = [totals[uid] for uid in sorted(totals, key=lambda u: order[u])]
    for t in report.units:
        t.colour = palette.unit(t.colours) if palette else None
    summary = wb.create_sheet(words["summary_sheet"])
    _header(summary, SUMMARY_COLUMNS, words)
    for t in [*report.units, _sum(words["total"], report.units)]:
        rate = WriteOnlyCell(summary, value=round(t.rate, 4))
        rate.number_format = "0.0%"
        summary.append([_text(summary, t.name), _colour(summary, t.colour), t.found, t.closed, t.on_time,
                        t.on_time_original, t.overdue, t.overdue_original, rate])
    summary.auto_filter.ref = f"A1:{get_column_letter(len(SUMMARY_COLUMNS))}{len(report.units) + 1}"
    wb.save(dest)
    return report


def _latest_progress(session: Session, tz: Any) -> dict[int, str]:
    """最新进展: each finding's newest progress report as "YYYY-MM-DD text" (one query over the reports)."""
    out: dict[int, str] = {}
    for fid, at, text in session.execute(select(ProgressReport.finding_id, ProgressReport.at, ProgressReport.text)
                                         .order_by(ProgressReport.id)):
        out[fid] = f"{at.astimezone(tz).date().isoformat()} {text}"
    return out


def _sum(name: str, units: list[UnitTotals]) -> UnitTotals:
    return UnitTotals(name, sum(u.found for u in units), sum(u.closed for u in units),
                      sum(u.overdue for u in units), sum(u.on_time for u in units),
                      sum(u.on_time_original for u in units), sum(u.overdue_original for u in units))
