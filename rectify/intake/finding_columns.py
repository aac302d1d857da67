"""Reading a clean findings sheet column by column: the fast path of `parse_rows`, same rows, no errors.

A county's sheet is 100,000 rows over a few hundred distinct dates, deadlines, units, rounds and groups. Read
row by row, each row costs a dozen Python calls even when every one hits a memo; read column by column, each
distinct cell of a column is read once and the column is mapped through a dict in C, and only the problem
text (distinct in every row) is read per row. This path only knows how to read good rows: at the first cell
that is not (a bad date, an unknown unit, a blank 问题描述, a name too long…) it gives up and `parse_rows`
reads the whole sheet again row by row, which names every bad cell exactly as before. So the errors a clerk
sees never depend on this file; the rows it gives are the ones `parse_rows` gives (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from operator import itemgetter
from typing import Any

from rectify.core.workcal import WorkCalendar
from rectify.intake.cells import CellError, parse_date, parse_int, rule_days, squeeze
from rectify.intake.column_keys import problem_keys
from rectify.intake.finding_rows import (
    LIMITS,
    Ident,
    Progress,
    Row,
    UnitMatcher,
    _blank,
    _code,
    _deadline,
    _one_line,
    _text,
)

_TEXT_TYPES = frozenset({str, type(None)})


class _Unclean(Exception):
    """A cell this path does not read: the row-by-row reading takes over."""


def _mapped(fn: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """fn over a column, once per distinct text (as `parse_rows` memoises text cells; other types per cell)."""
    if set(map(type, values)) <= _TEXT_TYPES:
        seen = {v: fn(v) for v in set(values)}
        return list(map(seen.__getitem__, values))
    return list(map(fn, values))


def _kept_rows(rows: list[tuple[int, Sequence[Any]]], need: int, ip: int, places: list[int]
               ) -> tuple[list[int], list[Sequence[Any]]]:
    """(numbers, cells) of the rows that are not blank, by the blank-row test of parse_rows, as it is. When
    every row holds the `need` cells and a 问题描述 that is a non-blank string — told by C-level passes over the
    column — no row can be blank and all are kept at once; else row by row."""
    if rows and min(map(len, map(itemgetter(1), rows))) >= need:
        cells = list(map(itemgetter(1), rows))
        problems = list(map(itemgetter(ip), cells))
        if set(map(type, problems)) == {str} and all(problems) and not any(map(str.isspace, problems)):
            return list(map(itemgetter(0), rows)), cells
    numbers: list[int] = []
    kept: list[Sequence[Any]] = []
    for number, cells in rows:
        if len(cells) < need:
            cells = [*cells, *([None] * (need - len(cells)))]
        problem_raw = cells[ip]
        if not (problem_raw.__class__ is str and problem_raw and not problem_raw.isspace()):
            empty = cells.count("") + cells.count(None) == len(cells)
            if empty or all(_blank(cells[i]) for i in places):
                continue
        numbers.append(number)
        kept.append(cells)
    return numbers, kept


def _plain(values: Sequence[Any], fn: Callable[[Any], str]) -> list[str]:
    """fn (`_text` or `_code`) over a column: when every cell is a printable string (ASCII, for `_code`), both
    give the cell stripped, so the column is stripped by one C-level map; else fn per cell."""
    if set(map(type, values)) == {str} and all(map(str.isprintable, values)) \
            and (fn is not _code or all(map(str.isascii, values))):
        return list(map(str.strip, values))
    return list(map(fn, values))


def _numbers(values: Sequence[Any]) -> list[int | None]:
    """`parse_int` over a 序号 column; a column of whole numbers (ints, or floats with no fraction) at C speed."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return list(values)
    if kinds == {float} and all(map(float.is_integer, values)):
        return list(map(int, values))
    return list(map(parse_int, values))


def _within(values: Sequence[str], limit: int) -> None:
    if values and max(map(len, values)) > limit:
        raise _Unclean


def clean_rows(table: Any, units: UnitMatcher, cal: WorkCalendar, immediate_days: int, round_option: str | None,
               date_option: date | None, group_option: str | None, on_progress: Progress | None
               ) -> tuple[list[Row], list[Any], list[Ident], int] | None:
    """`parse_rows`'s answer for a sheet with no bad cell (identities only when two rows may be one finding),
    or None: some cell needs the row-by-row reading. `table.rows` must be a list (it may be read twice)."""
    try:
        return _clean_rows(table, units, cal, immediate_days, round_option, date_option, group_option, on_progress)
    except _Unclean:
        return None


def _clean_rows(table: Any, units: UnitMatcher, cal: WorkCalendar, immediate_days: int, round_option: str | None,
                date_option: date | None, group_option: str | None, on_progress: Progress | None
                ) -> tuple[list[Row], list[Any], list[Ident], int]:
    cols = table.header.columns
    keys = ("code", "round", "group", "date", "unit", "problem", "opinion", "deadline", "owner", "note")
    places = [cols[k] for k in keys if k in cols]
    at = {k: cols.get(k, -1) for k in (*keys, "seq")}
    need = max([*places, at["seq"]]) + 1
    ip = at["problem"]
    if ip < 0 or at["unit"] < 0 or at["deadline"] < 0:
        raise _Unclean

    numbers, kept = _kept_rows(table.rows, need, ip, places)
    n = len(kept)
    if not n:
        raise _Unclean
    columns = list(zip(*kept, strict=False))  # rows of different lengths (CSV): all hold the `need` cells
    del kept

    def column(key: str) -> Sequence[Any] | None:
        return columns[at[key]] if at[key] >= 0 else None

    codes = _plain(raw, _code) if (raw := column("code")) is not None else [""] * n
    _within(codes, LIMITS["code"])
    round_option = " ".join((round_option or "").split()) or None
    group_option = " ".join((group_option or "").split()) or None
    round_texts = _mapped(_one_line, raw) if (raw := column("round")) is not None else [""] * n
    if round_option:
        round_texts = [t or round_option for t in round_texts]
    if not all(round_texts):
        raise _Unclean
    _within(round_texts, LIMITS["round"])
    group_texts = _mapped(_one_line, raw) if (raw := column("group")) is not None else [""] * n
    if group_option:
        group_texts = [t or group_option for t in group_texts]
    _within(group_texts, LIMITS["group"])
    owners: list[Any] = _mapped(_one_line, raw) if (raw := column("owner")) is not None else [None] * n
    if at["owner"] >= 0:
        _within(owners, LIMITS["owner"])

    raw_dates = column("date") or [None] * n
    days_of: dict[Any, date] = {}
    for raw_date in dict.fromkeys(raw_dates):
        if _blank(raw_date):
            if date_option is None:
                raise _Unclean
            days_of[raw_date] = date_option
        else:
            try:
                days_of[raw_date] = parse_date(raw_date)
            except CellError:
                raise _Unclean from None
    days = list(map(days_of.__getitem__, raw_dates))

    unit_texts = _mapped(_one_line, columns[at["unit"]])
    ids = units.match_all(list(dict.fromkeys(unit_texts)))
    if ids is None:
        raise _Unclean
    unit_ids = list(map(ids.__getitem__, unit_texts))

    problems = _plain(columns[ip], _text)
    if not all(problems):
        raise _Unclean
    pkeys = problem_keys(problems)
    round_keys = _mapped(squeeze, round_texts)

    pairs = list(zip(columns[at["deadline"]], days, strict=True))
    rules: dict[tuple[Any, date], tuple[str, int | None, str, date | None]] = {}
    for pair in dict.fromkeys(pairs):
        parsed = _deadline(pair[0], pair[1], cal, immediate_days)
        if isinstance(parsed, CellError):
            raise _Unclean
        rule, text, due = parsed
        rules[pair] = (rule.kind.value, rule_days(rule), text, due)
    kinds, spans, texts, dues = zip(*map(rules.__getitem__, pairs), strict=True)

    seqs = _numbers(raw) if (raw := column("seq")) is not None else [None] * n
    group_keys = [k if t else None for k, t in zip(_mapped(squeeze, group_texts), group_texts, strict=True)]
    group_names = [t or None for t in group_texts]
    opinions = _mapped(_text, raw) if (raw := column("opinion")) is not None else [None] * n
    notes = _mapped(_text, raw) if (raw := column("note")) is not None else [None] * n
    rows = list(map(Row, numbers, codes, seqs, round_keys, round_texts, group_keys, group_names, days, unit_ids,
                    problems, pkeys, opinions, owners, notes, kinds, spans, texts, dues))

    # Identities only matter when two rows may be one finding (a 编号 twice, or round + unit + problem twice).
    coded = [c for c in codes if c]
    idents: list[Ident] = []
    if len(set(coded)) != len(coded) or (len(set(pkeys)) != n  # distinct problems: distinct triples
                                           and len(set(zip(round_keys, unit_ids, pkeys, strict=True))) != n):
        idents = list(map(Ident, numbers, codes, round_keys, unit_ids, pkeys, problems))
    if on_progress:
        on_progress("read", n, n)
    return rows, [], idents, n
