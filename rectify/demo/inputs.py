"""The demo's input spreadsheets, written as a county office would hand them over (real .xlsx files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from openpyxl import Workbook

from rectify.demo.county import COUNTY, DEPARTMENTS, GROUPS, TOWNSHIPS, alias_of, person_name
from rectify.demo.findings import DemoFinding, make_findings
from rectify.templating import labels

UNIT_HEADERS = ["单位名称", "简称/别名", "类型", "联系人", "联系人邮箱", "主要负责人", "负责人邮箱", "联系人手机",
                "企业微信账号", "钉钉账号", "负责人手机"]
FINDING_HEADERS = ["序号", "编号", "督导组", "督导日期", "责任单位", "问题描述", "整改意见", "整改时限", "责任人",
                   "备注"]


def _save(headers: list[str], rows: list[list[object]], path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def unit_rows() -> list[list[object]]:
    kinds = labels()["unit_kind"]
    rows = []
    for i, name in enumerate(DEPARTMENTS + TOWNSHIPS):
        kind = kinds["county"] if name in DEPARTMENTS else kinds["township"]
        # Departments work in 企业微信, townships in 钉钉; every contact and leader has a (made-up) mobile.
        wecom, ding = (f"u{i:02d}contact", "") if name in DEPARTMENTS else ("", f"ding{i:02d}c")
        rows.append([name, "、".join(alias_of(name)), kind, person_name(2 * i), f"u{i:02d}.contact@lushan.example",
                     person_name(2 * i + 1), f"u{i:02d}.leader@lushan.example", f"1380000{2 * i:04d}", wecom, ding,
                     f"1380000{2 * i + 1:04d}"])
    return rows


def write_units(folder: Path) -> Path:
    return _save(UNIT_HEADERS, unit_rows(), folder / "单位通讯录.xlsx")


def demo_findings(inspected: date, n: int = 120) -> list[DemoFinding]:
    # Clerks type the county prefix on some rows and the short form on others; both must match.
    units = DEPARTMENTS + TOWNSHIPS
    found = make_findings(units, GROUPS, inspected, n)
    return [f if i % 5 else DemoFinding(f.code, f.group, COUNTY + f.unit.removeprefix("县"), f.problem, f.opinion,
                                        f.deadline, f.owner)
            for i, f in enumerate(found)]


def write_findings(folder: Path, inspected: date, n: int = 120) -> Path:
    rows = [[i + 1, f.code, f.group, inspected, f.unit, f.problem, f.opinion, f.deadline, f.owner, ""]
            for i, f in enumerate(demo_findings(inspected, n))]
    return _save(FINDING_HEADERS, rows, folder / "督导发现问题清单.xlsx")
