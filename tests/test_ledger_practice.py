"""The ledger's supervision columns on SQLite and PostgreSQL: both deadlines, extensions, colours, 反弹."""

from datetime import UTC, datetime

from openpyxl import load_workbook

from rectify.intake import export_ledger, import_findings
from tests.support.practice import AS_OF, seed_county


def test_it_shows_both_deadlines_extensions_colours_and_rebounds(session, rt, tmp_path) -> None:
    seed_county(session)
    out = tmp_path / "台账.xlsx"
    export_ledger(session, out, calendar=rt.calendar, as_of=AS_OF, ladder=rt.ladder,
                  supervision=rt.settings.supervision)
    ws, summary = load_workbook(out).worksheets
    head = [c.value for c in ws[1]]
    col = {name: head.index(name) for name in head}
    line = {r[1]: r for r in ws.iter_rows(min_row=2, values_only=True)}

    def cells(code: str, *names: str) -> tuple:
        return tuple(line[code][col[n]] for n in names)

    names = ("现整改时限", "原整改时限", "延期次数", "逾期工作日", "按原时限逾期工作日", "预警", "反弹次数")
    # On time against the new date, five working days late against the first one (3月18日-22日).
    assert cells("P-1", *names) == (datetime(2024, 3, 29), datetime(2024, 3, 15), 1, 0, 5, None, 0)
    assert cells("P-2", *names) == (datetime(2024, 3, 29), datetime(2024, 3, 29), 0, 0, 0, "黄色预警", 0)
    assert cells("P-3", "预警") == ("黄色预警",)  # refused: yellow although only blue by its date
    assert cells("P-4", *names) == (datetime(2024, 3, 15), datetime(2024, 3, 8), 1, None, None, None, 0)
    # Reopened on 3月20日 with a new deadline: not late now, 10 working days past the original 3月8日.
    assert cells("P-5", *names) == (datetime(2024, 4, 3), datetime(2024, 3, 8), 0, 0, 10, None, 1)
    assert cells("P-5", "状态") == ("未整改",)

    totals = {r[0]: r[1:] for r in summary.iter_rows(min_row=2, values_only=True)}
    assert [c.value for c in summary[1]] == ["责任单位", "预警", "问题总数", "已销号", "按期销号", "按原时限按期销号",
                                             "逾期未整改", "按原时限逾期未整改", "整改完成率"]
    assert totals["县财政局"] == ("红色预警", 3, 0, 0, 0, 0, 1, 0)  # two yellows make a red unit
    # P-4 was done on 3月14日: by the extended 3月15日, not by the original 3月8日.
    assert totals["城关镇"] == (None, 2, 1, 1, 0, 0, 1, 0.5)
    assert totals["合计"] == (None, 5, 1, 1, 0, 0, 2, 0.2)
    assert summary["B2"].fill.fgColor.rgb.endswith("F4B6B6")  # the red unit's cell is shaded


def test_it_imports_an_extended_finding_back_unchanged(session, rt, tmp_path) -> None:
    seed_county(session)
    out = tmp_path / "台账.xlsx"
    export_ledger(session, out, calendar=rt.calendar, as_of=AS_OF, ladder=rt.ladder)
    report = import_findings(session, out, calendar=rt.calendar, now=datetime(2024, 3, 22, 2, tzinfo=UTC))
    session.commit()
    assert (report.created, report.updated, report.unchanged) == (0, 0, 5)
