"""The 整改台账 export on SQLite and PostgreSQL: what it writes, that it imports back unchanged, its filters."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from rectify.intake import IntakeError, export_ledger
from rectify.services.findings import SYSTEM, act
from tests.support import factory
from tests.support.intake import HEAD, NOW, by_code, csv_file, dump, four_units, run

units = pytest.fixture(four_units, name="units")


# --- the ledger ----------------------------------------------------------------------------------------

def test_it_exports_a_ledger_that_imports_back_unchanged(session, rt, units, tmp_path) -> None:
    rows = [HEAD,
            [1, "L-1", "第一督导组", "2024-01-10", "城关镇", '=HYPERLINK("x") <b>粗</b>', "整改", "2024-01-31",
             "张", "注"],
            [2, "L-2", "第一督导组", "2024-01-10", "城关镇", "问题二\n第二行", "整改", "5个工作日内", "", ""],
            [3, "L-3", "第二督导组", "2024-01-10", "教体局", "问题三", "整改", "立行立改", "", ""],
            [4, "L-4", "第二督导组", "2024-01-10", "人社局", "问题四", "整改", "长期坚持", "", ""],
            [5, "", "第二督导组", "2024-01-10", "财政局", "问题五", "整改", "1月31日前", "", ""]]
    run(session, rt, csv_file(tmp_path / "a.csv", rows, "utf-8-sig"), round_name="2024年第一轮")
    session.commit()
    f = by_code(session)
    act(session, f["L-3"], "report", SYSTEM, NOW, measures="已整改")
    act(session, f["L-3"], "verify", SYSTEM, NOW)
    f["L-1"].due_date = date(2024, 2, 7)  # an extension granted since the import
    f["L-2"].level = 3  # 催办 fired
    session.commit()
    before = dump(session)

    out = tmp_path / "台账.xlsx"
    ledger = export_ledger(session, out, calendar=rt.calendar, as_of=date(2024, 2, 20), ladder=rt.ladder)
    assert ledger.rows == 5
    wb = load_workbook(out)
    ws, summary = wb.worksheets
    assert (ws.title, summary.title) == ("整改台账", "单位汇总")
    header = [c.value for c in ws[1]]
    assert header == ["序号", "编号", "督导轮次", "督导组", "督导日期", "责任单位", "问题描述", "整改意见",
                      "现整改时限", "责任人", "备注", "原整改时限", "延期次数", "状态", "预警", "逾期工作日",
                      "按原时限逾期工作日", "已达督办级别", "反弹次数", "整改情况", "销号时间", "签收时间",
                      "最新进展"]
    assert ws["A1"].font.b and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:W6"
    assert ws.column_dimensions["G"].width >= 40
    line = {r[1].value: r for r in ws.iter_rows(min_row=2)}
    assert line["L-1"][6].value == '=HYPERLINK("x") <b>粗</b>' and line["L-1"][6].data_type == "s"
    assert line["L-1"][8].value == datetime(2024, 2, 7) and line["L-1"][8].is_date  # the current due date
    assert line["L-1"][11].value == datetime(2024, 1, 31) and line["L-1"][11].is_date  # the original one
    assert line["L-1"][15].value == 5  # 2月8日, 9日, then the 调休 Sunday 18日, 19日, 20日
    assert line["L-1"][16].value == 11  # from 1月31日: 2月1日, 2日, 调休 4日, 5-9日, 18-20日
    assert line["L-1"][14].value == "红色预警"  # 5 working days late: the 督办 step
    assert line["L-2"][17].value == "催办" and line["L-2"][13].value == "未整改"
    assert line["L-3"][13].value == "已销号" and line["L-3"][19].value == "已整改"
    assert line["L-3"][20].value == datetime(2024, 1, 20, 9, 0)  # Asia/Shanghai
    assert (line["L-3"][15].value, line["L-3"][14].value, line["L-3"][12].value, line["L-3"][18].value) == (
        None, None, 0, 0)
    assert line["L-4"][8].value == "长期坚持" and line["L-4"][15].value is None and line["L-4"][14].value is None
    totals = {r[0]: r[1:] for r in summary.iter_rows(min_row=2, values_only=True)}
    # 预警, 问题总数, 已销号, 按期销号, 按原时限按期销号, 逾期未整改, 按原时限逾期未整改, 整改完成率
    assert totals["城关镇"] == ("红色预警", 2, 0, 0, 0, 2, 2, 0)
    assert totals["鲁山县教育体育局"] == (None, 1, 1, 0, 0, 0, 0, 1)  # 立行立改 by 1月15日, done 1月20日
    assert totals["合计"] == (None, 5, 1, 0, 0, 3, 3, 0.2)
    assert list(totals)[:2] == ["鲁山县财政局", "城关镇"]  # the directory's order

    again = run(session, rt, out)
    session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert dump(session) == before


def test_it_filters_the_ledger_by_round_and_state(session, rt, units, tmp_path) -> None:
    r1, r2 = factory.round_(session, "一轮"), factory.round_(session, "二轮")
    factory.finding(session, unit=units["城关镇"], round=r1)
    factory.finding(session, unit=units["城关镇"], round=r2, state="closed")
    factory.finding(session, unit=units["城关镇"], round=r2)
    session.commit()
    out = tmp_path / "l.xlsx"
    assert export_ledger(session, out, calendar=rt.calendar, as_of=date(2024, 2, 1), round_name="二轮").rows == 2
    assert export_ledger(session, out, calendar=rt.calendar, as_of=date(2024, 2, 1), states=["已销号"]).rows == 1
    with pytest.raises(IntakeError, match="三轮"):
        export_ledger(session, out, calendar=rt.calendar, as_of=date(2024, 2, 1), round_name="三轮")
    with pytest.raises(IntakeError, match="未整改"):
        export_ledger(session, out, calendar=rt.calendar, as_of=date(2024, 2, 1), states=["done"])
