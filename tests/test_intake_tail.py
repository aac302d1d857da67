"""A sheet formatted far below its data (borders on whole columns): the import reads only the rows with data,
keeps the sheet's row numbers, and the workbook calamine parses holds no formatted-but-empty tail.

The workbooks are saved by openpyxl with a bordered style, then their sheet gets the rows Excel writes for a
formatted range: `<row r="N" s="1" customFormat="1"><c r="AN" s="1"/>...</row>` down to the last row, with
the <dimension> claiming them. 200,000 such rows (not 1,048,576) keep the test quick; bench/import.py
--empty-tail measures the full sheet.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.styles import Border, Side
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from models import Finding
from rectify.intake import ImportRejected
from rectify.intake.tail import trim_empty_tail
from tests.support.intake import HEAD, dump, four_units, run

units = pytest.fixture(four_units, name="units")
SHEET = "xl/worksheets/sheet1.xml"
ROWS = [HEAD,
        [1, "T-1", "第一督导组", datetime(2024, 1, 10), "城关镇", "问题一", "整改", "5个工作日内", "", ""],
        [2, "T-2", "第一督导组", datetime(2024, 1, 10), "财政局", "问题二", "整改", "长期坚持", "", ""],
        [3, "T-3", "第一督导组", datetime(2024, 1, 10), "教体局", "问题三", "整改", "2024年2月5日", "", ""]]


def formatted(path: Path, rows: list[list[object]], last_row: int, *, late: tuple[int, list[object]] | None = None,
              numbered: bool = True) -> Path:
    """rows saved by openpyxl, then every row down to `last_row` formatted and empty (one `late` row with data)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "问题清单"
    line = Border(bottom=Side(style="thin"))
    for row in rows:
        ws.append(row)
    if late is not None:
        for c, value in enumerate(late[1], start=1):
            ws.cell(late[0], c, value)
    ws.merge_cells("K1:L1")  # something after </sheetData> that must survive
    for r in ws.iter_rows(min_row=1, max_row=len(rows), max_col=10):
        for cell in r:
            cell.border = line
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    xml = parts[SHEET].decode()
    style = xml.split(' s="', 1)[1].split('"', 1)[0]  # the border's style index
    tail = []
    for r in range(len(rows) + 1, last_row + 1):
        if late is not None and r == late[0]:
            continue
        ref = f' r="{r}"' if numbered else ""
        cells = f'<c r="A{r}" s="{style}"/><c r="J{r}" s="{style}"/>' if numbered else f'<c s="{style}"/>'
        tail.append(f'<row{ref} s="{style}" customFormat="1">{cells}</row>')
    if late is not None:  # the late row in its place among the formatted ones
        head, body = xml.split("<sheetData>", 1)
        data, rest = body.split("</sheetData>", 1)
        marker = f'<row r="{late[0]}"'
        early, late_xml = data.split(marker, 1)
        before, after = tail[:late[0] - len(rows) - 1], tail[late[0] - len(rows) - 1:]
        xml = (head + "<sheetData>" + early + "".join(before) + marker + late_xml + "".join(after)
               + "</sheetData>" + rest)
    else:
        xml = xml.replace("</sheetData>", "".join(tail) + "</sheetData>")
    dim = xml.split('<dimension ref="', 1)[1].split('"', 1)[0]
    xml = xml.replace(f'<dimension ref="{dim}"', f'<dimension ref="A1:L{last_row}"', 1)
    parts[SHEET] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def sheet_size(workbook: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(workbook)) as z:
        return z.getinfo(SHEET).file_size


def test_it_imports_only_the_rows_with_data_above_a_formatted_tail(session, rt, units, tmp_path) -> None:
    path = formatted(tmp_path / "f.xlsx", ROWS, 200_000)
    report = run(session, rt, path, round_name="2024年第一轮")
    session.commit()
    assert (report.rows, report.created) == (3, 3)
    assert set(session.scalars(select(Finding.code))) == {"T-1", "T-2", "T-3"}
    trimmed = trim_empty_tail(path.read_bytes())
    assert sheet_size(trimmed) < 10_000 < 10_000_000 < sheet_size(path.read_bytes())  # gone before calamine reads
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(trimmed)).get_sheet_by_index(0)
    assert sheet.height == 4 and sheet.merged_cell_ranges == [((0, 10), (0, 11))]


def test_it_keeps_row_numbers_across_formatted_empty_rows(session, rt, units, tmp_path) -> None:
    late = [9, "T-9", "第一督导组", datetime(2024, 1, 10), "财务局", "单位写错", "整改", "5个工作日内", "", ""]
    path = formatted(tmp_path / "f.xlsx", ROWS, 200_000, late=(150_000, late))
    before = dump(session)
    with pytest.raises(ImportRejected) as caught:
        run(session, rt, path, round_name="2024年第一轮")
    session.rollback()
    assert [(e.row, e.column, e.value) for e in caught.value.errors] == [(150_000, "责任单位", "财务局")]
    assert dump(session) == before

    late[4] = "人社局"
    path = formatted(tmp_path / "g.xlsx", ROWS, 200_000, late=(150_000, late))
    assert run(session, rt, path, round_name="2024年第一轮").created == 4
    session.commit()
    assert session.scalar(select(func.count()).select_from(Finding)) == 4


def test_it_leaves_sheets_it_cannot_or_need_not_trim_as_they_are(tmp_path) -> None:
    small = formatted(tmp_path / "s.xlsx", ROWS, 5_000).read_bytes()  # a short tail: calamine copes alone
    assert trim_empty_tail(small) is small
    unnumbered = formatted(tmp_path / "u.xlsx", ROWS, 200_000, numbered=False).read_bytes()
    trimmed = trim_empty_tail(unnumbered)  # rows without r="" at the end: nothing after them to renumber
    assert sheet_size(trimmed) < 10_000
    assert CalamineWorkbook.from_filelike(io.BytesIO(trimmed)).get_sheet_by_index(0).to_python()[1:] == [
        [float(r[0]), *r[1:3], r[3].date(), *r[4:]] for r in ROWS[1:]]
    assert trim_empty_tail(b"PK\x03\x04 not a zip") == b"PK\x03\x04 not a zip"
