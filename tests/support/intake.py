"""Intake test helpers: real .xlsx and .csv files built at test time, a dump of every table, the import call
with the test county's settings, and the four units most intake tests import against."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from models import Base, Finding, Unit
from rectify.intake import import_findings
from tests.support import factory

NOW = datetime(2024, 1, 20, 1, 0, tzinfo=UTC)
PREFIX = "鲁山县"
HEAD = ["序号", "编号", "督导组", "督导日期", "责任单位", "问题描述", "整改意见", "整改时限", "责任人", "备注"]
UNIT_HEAD = ["单位名称", "简称/别名", "类型", "联系人", "联系人邮箱", "主要负责人", "负责人邮箱"]


# --- files -----------------------------------------------------------------------------------------

def xlsx(path: Path, rows: list[list[Any]], *, merges: tuple[str, ...] = (), sheet: str = "问题清单",
         more_sheets: tuple[str, ...] = ()) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    for ref in merges:
        ws.merge_cells(ref)
    for name in more_sheets:
        wb.create_sheet(name).append(["说明"])
    wb.save(path)
    return path


def csv_file(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def dump(session) -> dict[str, list[tuple]]:
    """Every row of every table, in key order: 'unchanged' means byte-for-byte the same values."""
    session.expire_all()
    return {t.name: [tuple(r) for r in session.execute(select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables}


def run(session, rt, source, **kw):
    kw.setdefault("county_prefix", PREFIX)
    return import_findings(session, source, calendar=rt.calendar, now=NOW, **kw)


def four_units(session) -> dict[str, Unit]:
    """The units fixture (`units = pytest.fixture(four_units, name="units")` in a test module)."""
    made = {
        "财政局": factory.unit(session, "鲁山县财政局", aliases=["县财政"]),
        "城关镇": factory.unit(session, "城关镇", "township"),
        "教体局": factory.unit(session, "鲁山县教育体育局", aliases=["教体局", "县教体局"]),
        "人社局": factory.unit(session, "鲁山县人力资源和社会保障局", aliases=["人社局"]),
    }
    for order, u in enumerate(made.values(), start=1):
        u.sort_order = order
    session.commit()
    return made


def by_code(session) -> dict[str, Finding]:
    session.expire_all()
    return {f.code: f for f in session.scalars(select(Finding))}
