"""Spreadsheets in: .xlsx/.xlsm (Excel, WPS), .xls (Excel 97-2003, WPS .et), .ods (LibreOffice/WPS) and
.csv in UTF-8, UTF-8 with BOM, UTF-16 or GB18030/GBK.

The format is told by the bytes, not the name: a zip or an OLE file is a workbook, read by python-calamine
(Rust: a 100,000-row sheet in well under a second, where openpyxl takes ~5 s); anything else is CSV.
CSV encodings are detected, never asked for. Rows come back with the row number the spreadsheet shows;
merged cells (a 责任单位 spanning several rows) read as their top-left value on every row they cover.
"""

from __future__ import annotations

import codecs
import csv
import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rectify.intake.cells import cell_text, squeeze
from rectify.intake.errors import IntakeError
from rectify.intake.headers import HeaderMap, Spec, find_header
from rectify.memory import give_back

Source = Path | str | bytes | IO[bytes]
HEADER_SEARCH_ROWS = 10
Rows = tuple[str, Iterator[tuple[int, Sequence[Any]]], int | None]  # display name, rows, estimated count

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class Table:
    """A sheet with its header found: data rows as (sheet row number, cells)."""

    name: str  # what messages call the file: name, plus the sheet for a workbook
    header: HeaderMap
    rows: Iterator[tuple[int, Sequence[Any]]]
    estimated_rows: int | None = None  # data rows, when the file says (xlsx dimension)


def _load(source: Source) -> tuple[bytes | None, IO[bytes] | None, str]:
    """(bytes, or an open binary stream) and a display name."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return path.read_bytes(), None, path.name
        except FileNotFoundError:
            raise IntakeError("no_file", name=str(path)) from None
        except OSError as exc:
            raise IntakeError("unreadable", name=path.name, detail=exc.strerror or str(exc)) from None
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), None, ""
    return None, source, getattr(source, "name", "") or ""


def read_rows(source: Source, *, filename: str | None = None, sheet: str | None = None) -> Rows:
    """(display name, rows, estimated row count) of a spreadsheet, whatever its format."""
    data, stream, name = _load(source)
    name = Path(filename).name if filename else name
    if data is None:
        assert stream is not None
        data = stream.read()
    head = data[:8]
    suffix = Path(name).suffix.lower()
    if head.startswith((b"PK\x03\x04", _OLE)):
        return _workbook_rows(data, name, sheet)
    if suffix in WORKBOOK_SUFFIXES:
        raise IntakeError("unreadable", name=name, detail=f"not a valid {suffix} workbook")
    if sheet:
        raise IntakeError("sheet_on_csv")
    return name, _csv_rows(data, name), None


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ods")


# --- CSV -----------------------------------------------------------------------------------------

def decode(data: bytes) -> str:
    """CSV text: BOMs first, then UTF-8, then GB18030 (a superset of GBK, what Excel writes on Chinese Windows)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IntakeError("encoding")


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", "\t", ";", "，")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(data: bytes, name: str) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        text = decode(data)
    except UnicodeDecodeError:
        raise IntakeError("encoding") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise IntakeError("unreadable", name=name, detail=str(exc)) from None


# --- workbooks (python-calamine) ------------------------------------------------------------------

def _pick_sheet(wb: Any, sheet: str | None, name: str) -> str:
    from python_calamine import SheetTypeEnum

    names = [m.name for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet] or list(wb.sheet_names)
    if not names:
        raise IntakeError("empty_file", name=name or "?")
    if sheet is None:
        return names[0]
    for title in names:
        if title == sheet or squeeze(title) == squeeze(sheet):
            return title
    raise IntakeError("no_sheet", name=name, sheet=sheet, sheets="、".join(names))


def _workbook_rows(data: bytes, name: str, sheet: str | None) -> Rows:
    from python_calamine import CalamineWorkbook

    from rectify.intake.tail import trim_empty_tail

    if data.startswith(b"PK\x03\x04"):
        data = trim_empty_tail(data)  # a sheet formatted down to row 1,048,576: only the rows with data
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        title = _pick_sheet(wb, sheet, name)
        ws = wb.get_sheet_by_name(title)
        # From A1, so numbers are the rows the spreadsheet shows; empty cells read as "".
        rows = ws.to_python(skip_empty_area=False)
        merges = ws.merged_cell_ranges or []
    except IntakeError:
        raise
    except Exception as exc:  # calamine raises its own kinds (and ValueError) for a broken file
        raise IntakeError("unreadable", name=name, detail=type(exc).__name__) from None
    label = f"{name}（{title}）" if len(wb.sheet_names) > 1 or sheet else name
    # (min_col, min_row, max_col, max_row), 1-based like the sheet
    spans = sorted(((c1 + 1, r1 + 1, c2 + 1, r2 + 1) for (r1, c1), (r2, c2) in merges), key=lambda m: m[1])
    if not spans:  # nothing to fill in: the numbered rows at once, no generator step per row
        return label, iter(list(enumerate(rows, start=1))), len(rows)
    return label, _sheet_rows(rows, spans), len(rows)


def _sheet_rows(rows: list[list[Any]], merges: list[tuple[int, int, int, int]]
                ) -> Iterator[tuple[int, Sequence[Any]]]:
    pending = list(reversed(merges))  # by start row, the next one last
    active: list[tuple[int, int, int, Any]] = []  # (min_col, max_col, max_row, value)
    for number, values in enumerate(rows, start=1):
        rows[number - 1] = None  # type: ignore[call-overload]  # let go of each row once read
        if not pending and not active:
            yield number, values
            continue
        cells = list(values)
        active = [a for a in active if a[2] >= number]
        while pending and pending[-1][1] <= number:
            c1, r1, c2, r2 = pending.pop()
            if r1 == number:
                active.append((c1, c2, r2, cells[c1 - 1] if c1 - 1 < len(cells) else None))
        for c1, c2, _, value in active:
            if len(cells) < c2:
                cells.extend([None] * (c2 - len(cells)))
            for c in range(c1 - 1, c2):
                cells[c] = value
        yield number, cells


# --- reading ahead --------------------------------------------------------------------------------

class ReadAhead:
    """A spreadsheet read in a thread from the moment the file is known, while the caller does the rest of
    its start: the CLI imports SQLAlchemy and the models (~0.5 s), the service builds the calendar and
    opens the database. python-calamine parses a workbook without holding the GIL (0.55 s of a 100,000-row
    sheet's 0.7 s), so the two run on both cores. `read_table` takes one as its source; whatever the reading
    raised (an unreadable file, a missing sheet) is raised there, in the caller's thread, as without it."""

    def __init__(self, source: Source, *, filename: str | None = None, sheet: str | None = None):
        self.filename, self.sheet = filename, sheet
        self._result: Rows | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(source,), name="rectify-read-ahead", daemon=True)
        self._thread.start()

    def _read(self, source: Source) -> None:
        try:
            self._result = read_rows(source, filename=self.filename, sheet=self.sheet)
        except BaseException as exc:  # handed to the caller's thread, raised there
            self._error = exc
        finally:
            give_back()  # the parser's buffers, freed in this thread's own malloc arena: not kept to the end

    def result(self) -> Rows:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


# --- tables --------------------------------------------------------------------------------------

def read_table(source: Source | ReadAhead, spec: Spec, *, filename: str | None = None, sheet: str | None = None
               ) -> Table:
    """A sheet with its header row found among the top rows; IntakeError if there is none. A `ReadAhead`
    brings its own file name and sheet."""
    if isinstance(source, ReadAhead):
        name, rows, estimated = source.result()
    else:
        name, rows, estimated = read_rows(source, filename=filename, sheet=sheet)
    top: list[tuple[int, Sequence[Any]]] = []
    for number, cells in rows:
        top.append((number, cells))
        header = find_header(top[-1:], spec)
        if header is not None:
            if estimated is not None:
                estimated = max(estimated - number, 0)
            return Table(name, header, rows, estimated)
        if len(top) >= HEADER_SEARCH_ROWS:
            break
    expected = "、".join(spec.title(k) for k in spec.names)
    if not any(any(cell_text(c) for c in cells) for _, cells in top):
        raise IntakeError("empty_file", name=name or "?")
    raise IntakeError("no_header", name=name or "?", n=HEADER_SEARCH_ROWS, expected=expected)
