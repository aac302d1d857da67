"""Formatted-but-empty rows at the end of an .xlsx sheet, dropped before python-calamine parses them.

A clerk who puts borders on whole columns leaves a sheet whose XML holds a styled, value-less cell for
every row down to 1,048,576: ten columns make ten million `<c r="A9" s="3"/>` elements. calamine keeps
only the cells with values (the rows it returns stop at the data), but parsing those elements alone took
~14 s. python-calamine has no lazy reader, so the sheet's XML is streamed here first: everything from the
last row holding a value (`<v>` or an inline `<is>`) to `</sheetData>` is cut, the rest (merged ranges,
print settings) kept, and calamine reads the small sheet. Scanning costs ~1 s for the 290 MB of a
formatted-to-the-end sheet and is skipped when the sheet's <dimension> claims at most `SCAN_ABOVE` rows.

Rows are addressed by their `r` attribute, so empty rows between data rows may go too; when a data row
after dropped ones has no `r` (rare writers number rows by position) the sheet is left as it is.
"""

from __future__ import annotations

import io
import re
import zipfile

SCAN_ABOVE = 120_000  # rows a sheet's <dimension> must claim before its tail is looked at
CHUNK = 1 << 20
MIN_DROP = 1 << 20  # bytes of empty rows worth rewriting the workbook for

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"[A-Z]*\d*:?[A-Z]*(\d+)\"")
_SHEET_DATA = re.compile(rb"<(?:\w+:)?sheetData(\s*/?)>")
_SHEET_DATA_END = re.compile(rb"</(?:\w+:)?sheetData>")
_ROW = re.compile(rb"<(?:\w+:)?row[\s>]")
_ROW_END = re.compile(rb"</(?:\w+:)?row>")
_DATA_END = re.compile(rb"</(?:\w+:)?(?:v|is)>")


def trim_empty_tail(data: bytes) -> bytes:
    """The workbook with each worksheet's trailing value-less rows removed; `data` itself when there is
    nothing worth removing or the file is not a zip this understands (calamine then reports on it)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            sheets = {i.filename: i for i in z.infolist()
                      if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")}
            trimmed = {}
            for name, info in sheets.items():
                got = _trim_sheet(z, info)
                if got is not None:
                    trimmed[name] = got
            if not trimmed:
                return data
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as w:  # stored: no time spent compressing
                for info in z.infolist():
                    w.writestr(info.filename, trimmed.get(info.filename) or z.read(info))
            return out.getvalue()
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, NotImplementedError, RuntimeError):
        return data


def _trim_sheet(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    with z.open(info) as stream:
        first = stream.read(CHUNK)
        dim = _DIMENSION.search(first, 0, 4096)
        if dim is not None and int(dim[1]) <= SCAN_ABOVE:
            return None
        if dim is None and info.file_size < 64 * CHUNK:
            return None
        start = _SHEET_DATA.search(first)
        if start is None or start[1].strip() == b"/":
            return None
        kept = bytearray(first[:start.end()])
        pending = first[start.end():]
        dropped = gap = 0  # bytes dropped in all, and since the last row kept
        while True:
            end = _SHEET_DATA_END.search(pending) if b"sheetData>" in pending else None
            region = pending[:end.start()] if end is not None else None
            if region is None:
                more = stream.read(CHUNK)
                if not more:
                    return None  # no </sheetData>: leave the broken file to calamine
                cut = _last_row_end(pending)
                region, pending = pending[:cut], pending[cut:] + more
            lost = _keep_data_rows(kept, region, gap)
            if lost is None:
                return None
            gap = lost if lost < len(region) else gap + lost  # data in region: the gap restarts after it
            dropped += lost
            if end is not None:
                kept += pending[end.start():]
                kept += stream.read()
                break
    return bytes(kept) if dropped >= MIN_DROP else None


def _last_row_end(buf: bytes) -> int:
    """Offset just past the last complete `</row>` in buf (0 when there is none)."""
    window = max(0, len(buf) - 65536)
    while True:
        ends = list(_ROW_END.finditer(buf, window))
        if ends:
            return ends[-1].end()
        if window == 0:
            return 0
        window = max(0, window - 65536 * 16)


def _last_value_end(rows: bytes) -> int | None:
    """Offset just past the last `</v>` or `</is>` (any namespace prefix) in rows, searching from the end."""
    if b"v>" not in rows and b"is>" not in rows:  # a forward search is far cheaper than rfind
        return None
    pos = len(rows)
    while pos > 0:
        i = max(rows.rfind(b"v>", 0, pos), rows.rfind(b"is>", 0, pos))
        if i < 0:
            return None
        hits = list(_DATA_END.finditer(rows, max(0, i - 40), i + 3))
        if hits:
            return hits[-1].end()
        pos = i  # a '>' in text, not a closing tag
    return None


def _keep_data_rows(kept: bytearray, rows: bytes, gap: int) -> int | None:
    """Append `rows` (complete rows) to kept up to the end of the last one holding a value; bytes dropped.
    None when rows were dropped before these (`gap`) and the first of them has no `r`: it would move up."""
    last = _last_value_end(rows)
    if last is None:
        return len(rows)
    if gap:
        row = _ROW.search(rows)
        if row is not None and b' r="' not in rows[row.start():rows.find(b">", row.start())]:
            return None
    end = _ROW_END.search(rows, last)
    cut = end.end() if end is not None else len(rows)
    kept += rows[:cut]
    return len(rows) - cut
