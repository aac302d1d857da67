"""Reading and checking the rows of a findings sheet, before anything touches the database.

Every bad cell becomes a `RowError` (sheet row, header as typed, value, why); good rows become `Row`s
with the unit resolved, the deadline's rule read and its due date computed through the working-day
calendar. A 100,000-row sheet holds a few hundred distinct dates, deadlines, units, rounds and groups and
100,000 distinct problems, so each distinct cell of a repetitive column is read once (memoised per column)
and the per-row work is the problem text and its key: the checks cost less than reading the workbook.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from rectify.core.deadlines import due_date
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
from rectify.intake.column_keys import unit_keys
from rectify.intake.errors import RowError, shown

Progress = Callable[[str, int, int | None], None]
LIMITS = {"code": 64, "round": 200, "group": 100, "owner": 100}
OPTION_TITLE = {"round": "--round", "date": "--date", "group": "--group"}


class UnitMatcher:
    """Unit names and aliases → unit id, compared as `unit_key` does; unknown names get suggestions."""

    def __init__(self, units: Iterable[tuple[int, str, list[str] | None]], county_prefix: str = ""):
        self.prefix = county_prefix
        self.names: dict[int, str] = {}
        self.keys: dict[str, set[int]] = {}
        owners: list[int] = []
        spelled: list[str] = []
        for uid, name, aliases in units:
            self.names[uid] = name
            for n in (name, *(aliases or [])):
                owners.append(uid)
                spelled.append(n)
        keyed = unit_keys(spelled, county_prefix)  # folded in one pass: thousands of units, three names each
        for uid, key in zip(owners, keyed, strict=True):
            self.keys.setdefault(key, set()).add(uid)
        # A name as stored (the sheet most often spells units so) → its key, so those cells are not folded again.
        self._known = dict(zip(spelled, keyed, strict=True))
        self._cache: dict[str, int | CellError] = {}

    def match_all(self, texts: list[str]) -> dict[str, int] | None:
        """Each distinct text → its unit id, the keys of texts not spelled as stored folded in one pass; None
        when one is empty, unknown or ambiguous (`match` then says which and why)."""
        fresh = [t for t in texts if t not in self._known and t not in self._cache]
        self._known.update(zip(fresh, unit_keys(fresh, self.prefix), strict=True))
        ids: dict[str, int] = {}
        for text in texts:
            hit = self._cache.get(text)
            if hit is None:
                got = self.keys.get(self._known[text]) if text else None
                if not got or len(got) != 1:
                    return None
                hit = self._cache[text] = next(iter(got))
            if isinstance(hit, CellError):
                return None
            ids[text] = hit
        return ids

    def match(self, text: str) -> int:
        hit = self._cache.get(text)
        if hit is None:
            hit = self._cache[text] = self._match(text)
        if isinstance(hit, CellError):
            raise hit
        return hit

    def _match(self, text: str) -> int | CellError:
        known = self._known.get(text)
        ids = self.keys.get(known if known is not None else unit_key(text, self.prefix))
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
class Row:
    """One good row, ready to match and write."""

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


class Ident(NamedTuple):
    """What makes a row one finding: enough to tell duplicates even on a row with other bad cells."""

    number: int
    code: str
    round_key: str
    unit_id: int
    pkey: str
    problem: str


def _text(value: Any) -> str:
    """`cell_text`, with the common case (a clean one-line string) not going through the regexes."""
    if value.__class__ is str and value.isprintable():
        return value.strip()
    return cell_text(value)


def _one_line(value: Any) -> str:
    """A name cell (round, group, owner, unit): inner runs of whitespace as one space."""
    return " ".join(_text(value).split())


def _code(value: Any) -> str:
    if value.__class__ is str and value.isascii() and value.isprintable():
        return value.strip()  # NFKC leaves printable ASCII as it is
    return fold(cell_text(value))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Memo:
    """A column's cells read once per distinct string (other types, rare, are read every time)."""

    __slots__ = ("fn", "seen")

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn
        self.seen: dict[str, Any] = {}

    def __call__(self, value: Any) -> Any:
        if value.__class__ is not str:
            return self.fn(value)
        got = self.seen.get(value)
        if got is None:
            got = self.seen[value] = self.fn(value)
        return got


def parse_rows(table: Any, units: UnitMatcher, cal: WorkCalendar, immediate_days: int, round_option: str | None,
               date_option: date | None, group_option: str | None, on_progress: Progress | None
               ) -> tuple[list[Row], list[RowError], list[Ident], int]:
    """(good rows, bad cells, identities of rows whose identity reads, non-blank rows read)."""
    header = table.header
    rows: list[Row] = []
    errors: list[RowError] = []
    idents: list[Ident] = []  # every row whose identity reads, bad other cells or not: duplicates are told at once
    cols = header.columns
    typed = header.typed
    fields = [k for k in ("code", "round", "group", "date", "unit", "problem", "opinion", "deadline", "owner", "note")
              if k in cols]
    at = {k: cols[k] for k in fields}
    absent = -1
    ic, ir, ig, idt, iu, ip, io, idl, iw, inote = (at.get(k, absent) for k in (
        "code", "round", "group", "date", "unit", "problem", "opinion", "deadline", "owner", "note"))
    iseq = cols.get("seq", absent)
    places = list(at.values())
    round_option = " ".join((round_option or "").split()) or None
    group_option = " ".join((group_option or "").split()) or None
    names, long_text = _Memo(_one_line), _Memo(_text)
    keys = _Memo(squeeze)
    deadlines: dict[tuple[Any, date | None], Any] = {}
    dates: dict[Any, date | CellError] = {}
    count = 0

    def bad(number: int, key: str, value: Any, code: str, **params: Any) -> None:
        errors.append(RowError(number, typed.get(key) or OPTION_TITLE.get(key, ""), shown(value), code, params))

    need = max([*places, iseq]) + 1  # cells a row must have; a short row (CSV) is padded with None

    def cell(cells: Any, i: int) -> Any:
        return cells[i] if i >= 0 else None

    for number, cells in table.rows:
        if len(cells) < need:
            cells = [*cells, *([None] * (need - len(cells)))]
        problem_raw = cell(cells, ip)
        if not (problem_raw.__class__ is str and problem_raw and not problem_raw.isspace()):
            # A clear 问题描述 is enough to know a row is not blank; else an all-empty row (as calamine gives
            # every row of a gap) is told by two counts, and only a row with something in it is looked at.
            empty = cells.count("") + cells.count(None) == len(cells)
            if empty or all(_blank(cells[i]) for i in places):
                continue
        count += 1
        if on_progress and count % 1000 == 0:
            on_progress("read", count, table.estimated_rows)
        n_errors = len(errors)

        code = _code(cell(cells, ic)) if ic >= 0 else ""
        round_text = (names(cell(cells, ir)) if ir >= 0 else "") or round_option or ""
        group_text = (names(cell(cells, ig)) if ig >= 0 else "") or group_option or ""
        owner = names(cell(cells, iw)) if iw >= 0 else ""
        for key, value in (("code", code), ("round", round_text), ("group", group_text), ("owner", owner)):
            if len(value) > LIMITS[key]:
                bad(number, key, value, "too_long", limit=LIMITS[key])
        if not round_text:
            bad(number, "round", "", "required")

        day: date | None = None
        raw_date = cell(cells, idt)
        if _blank(raw_date):
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
        unit_text = names(cell(cells, iu))
        if not unit_text:
            bad(number, "unit", "", "required")
        else:
            try:
                unit_id = units.match(unit_text)
            except CellError as exc:
                bad(number, "unit", unit_text, exc.code, **exc.params)

        problem = _text(problem_raw)
        if not problem:
            bad(number, "problem", "", "required")
        round_key = keys(round_text)
        pkey = problem_key(problem)
        if round_text and unit_id and problem and len(code) <= LIMITS["code"]:
            idents.append(Ident(number, code, round_key, unit_id, pkey, problem))

        raw_deadline = cell(cells, idl)
        dl_key = (raw_deadline, day)
        parsed = deadlines.get(dl_key)
        if parsed is None:
            parsed = deadlines[dl_key] = _deadline(raw_deadline, day, cal, immediate_days)
        if isinstance(parsed, CellError):
            bad(number, "deadline", raw_deadline, parsed.code, **parsed.params)

        if len(errors) > n_errors or day is None:
            continue
        rule, text, due = parsed
        rows.append(Row(
            number, code, parse_int(cell(cells, iseq)) if iseq >= 0 else None, round_key, round_text,
            keys(group_text) if group_text else None, group_text or None, day, unit_id, problem, pkey,
            long_text(cell(cells, io)) if io >= 0 else None, owner if iw >= 0 else None,
            long_text(cell(cells, inote)) if inote >= 0 else None,
            rule.kind.value, rule_days(rule), text, due))
    if on_progress:
        on_progress("read", count, count)
    return rows, errors, idents, count


def _deadline(raw: Any, day: date | None, cal: WorkCalendar, immediate_days: int) -> Any:
    """(rule, text as typed, due date) of a deadline cell, or its CellError; due dates through the calendar."""
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


def duplicates(rows: list[Ident], header: Any) -> list[RowError]:
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
