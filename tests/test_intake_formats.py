"""The workbooks county PCs save besides .xlsx: Excel 97-2003 .xls and OpenDocument .ods, read by python-calamine
with the same results and the same all-or-nothing errors. The files in tests/fixtures were saved by LibreOffice
(tests/fixtures/make_workbooks.py), not written by us."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Finding, Unit
from rectify.intake import ImportRejected, IntakeError
from tests.support.intake import dump, four_units, run

FIXTURES = Path(__file__).resolve().parent / "fixtures"

units = pytest.fixture(four_units, name="units")


@pytest.mark.parametrize("name", ["findings.xls", "findings.ods"])
def test_it_imports_an_old_excel_or_opendocument_workbook(session, rt, units, name) -> None:
    report = run(session, rt, FIXTURES / name, round_name="2024年第一轮")
    session.commit()
    assert (report.rows, report.created) == (4, 4)
    got = {f.code: (u, f.group.name if f.group else None, f.inspected_on, f.deadline_kind, f.due_date, f.seq)
           for f, u in session.execute(select(Finding, Unit.name).join(Unit))}
    assert got == {
        "X-01": ("鲁山县财政局", "第一督导组", date(2024, 1, 10), "fixed", date(2024, 1, 31), 1),
        "X-02": ("城关镇", "第一督导组", date(2024, 1, 10), "working_days", date(2024, 1, 17), 2),  # merged cells
        "X-03": ("鲁山县教育体育局", "第一督导组", date(2024, 1, 10), "long_term", None, 3),
        "X-04": ("鲁山县人力资源和社会保障局", "第二督导组", date(2024, 1, 11), "fixed", date(2024, 2, 29), 4),
    }
    assert session.scalar(select(Finding.problem).where(Finding.code == "X-01")) == "<b>未公开</b>"


@pytest.mark.parametrize("name", ["findings_bad.xls", "findings_bad.ods"])
def test_it_lists_the_bad_rows_of_an_xls_or_ods_and_writes_nothing(session, rt, units, name) -> None:
    before = dump(session)
    with pytest.raises(ImportRejected) as caught:
        run(session, rt, FIXTURES / name, round_name="R")
    session.rollback()
    assert dump(session) == before
    report = str(caught.value)
    assert "第3行" in report and "财务局" in report and "第4行" in report and "尽快" in report
    assert "第2行" not in report


def test_it_refuses_a_broken_xls_or_ods_in_one_line(session, rt, units, tmp_path) -> None:
    good = (FIXTURES / "findings.xls").read_bytes()
    cases = {"cut.xls": good[: len(good) // 3], "cut.ods": (FIXTURES / "findings.ods").read_bytes()[:2000],
             "empty.ods": b""}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(IntakeError) as caught:
            run(session, rt, tmp_path / name, round_name="R")
        assert name in str(caught.value) and "\n" not in str(caught.value), name
    assert session.scalar(select(func.count()).select_from(Finding)) == 0
