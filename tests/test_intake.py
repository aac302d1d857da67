"""Findings import on SQLite and PostgreSQL: real .xlsx and .csv files built here, imported, refused, re-imported."""

from __future__ import annotations

import io
import pickle
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import Event, Finding, Round, SupervisionGroup, Unit
from rectify.intake import ImportRejected, IntakeError
from tests.support import factory
from tests.support.intake import HEAD, by_code, csv_file, dump, four_units, run, xlsx

units = pytest.fixture(four_units, name="units")


# --- findings: every deadline form, both file kinds ---------------------------------------------------

def test_it_imports_every_deadline_form_from_a_real_workbook(session, rt, units, tmp_path) -> None:
    d = date(2024, 1, 10)  # a Wednesday
    path = xlsx(tmp_path / "清单.xlsx", [
        ["2024年第一轮督导发现问题清单"],
        HEAD,
        [1, "A-01", "第一督导组", datetime(2024, 1, 10), "鲁山县财政局", "<script>alert(1)</script>未公开",
         "限期整改", datetime(2024, 1, 31), "张三", "备"],
        [2, "A-02", "第一督导组", d, "财政局", "问题2", "整改", "2024-02-05", "", ""],
        [3, "A-03", "第一督导组", "2024/1/10", "县财政", "问题3", "整改", "2024/2/6", "", ""],
        [4, "A-04", "第一督导组", "2024.1.10", "城关镇", "问题4", "整改", "2024.2.7", "", ""],
        [5, "A-05", "第一督导组", "2024年1月10日", "城关镇", "问题5", "整改", "２０２４年２月８日", "", ""],
        [6, "A-06", "第一督导组", d, "城关镇", "问题6", "整改", "1月31日前", "", ""],
        [7, "A-07", "第一督导组", d, "城关镇", "问题7", "整改", "1月5日前", "", ""],
        [8, "A-08", "第一督导组", d, "城关镇", "问题8", "整改", "2月底前", "", ""],
        [9, "A-09", "第一督导组", d, "城关镇", "问题9", "整改", "月底前", "", ""],
        [10, "A-10", "第一督导组", d, "教体局", "问题10", "整改", "5个工作日内", "", ""],
        [11, "A-11", "第一督导组", d, "教体局", "问题11", "整改", "10日内", "", ""],
        [12, "A-12", "第一督导组", d, "教体局", "问题12", "整改", "10天内", "", ""],
        [13, "A-13", "第一督导组", d, "教体局", "问题13", "整改", "立行立改", "", ""],
        [14, "A-14", "第一督导组", d, "人社局", "问题14", "整改", "长期坚持", "", ""],
    ])
    report = run(session, rt, path, round_name="2024年第一轮")
    session.commit()
    assert (report.rows, report.created, report.updated, report.unchanged) == (14, 14, 0, 0)
    assert report.new_rounds == ["2024年第一轮"] and report.new_groups == ["第一督导组"]
    f = by_code(session)
    due = {c: (f[c].deadline_kind, f[c].due_date) for c in f}
    assert due == {
        "A-01": ("fixed", date(2024, 1, 31)),
        "A-02": ("fixed", date(2024, 2, 5)),
        "A-03": ("fixed", date(2024, 2, 6)),
        "A-04": ("fixed", date(2024, 2, 7)),
        "A-05": ("fixed", date(2024, 2, 8)),
        "A-06": ("fixed", date(2024, 1, 31)),
        "A-07": ("fixed", date(2025, 1, 5)),  # the next 1月5日 on or after the inspection date
        "A-08": ("fixed", date(2024, 2, 29)),
        "A-09": ("fixed", date(2024, 1, 31)),
        "A-10": ("working_days", date(2024, 1, 17)),
        "A-11": ("calendar_days", date(2024, 1, 20)),
        "A-12": ("calendar_days", date(2024, 1, 20)),
        "A-13": ("immediate", date(2024, 1, 15)),  # 3 working days
        "A-14": ("long_term", None),
    }
    assert f["A-10"].deadline_days == 5 and f["A-10"].deadline_text == "5个工作日内"
    assert f["A-05"].deadline_text == "２０２４年２月８日"
    assert all(x.original_due_date == x.due_date and x.state == "open" for x in f.values())
    assert f["A-01"].problem == "<script>alert(1)</script>未公开"  # kept as typed
    assert f["A-01"].unit_id == f["A-02"].unit_id == f["A-03"].unit_id == units["财政局"].id
    assert f["A-01"].owner_name == "张三" and f["A-01"].seq == 1 and f["A-01"].inspected_on == d
    r = session.scalar(select(Round).where(Round.name == "2024年第一轮"))
    assert r.started_on == d
    events = session.execute(select(Event.kind, Event.to_state, Event.data)).all()
    assert len(events) == 14 and {e.kind for e in events} == {"import"}
    assert {e.data["row"] for e in events} == set(range(3, 17))  # sheet rows: title, header, then data


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8", "gb18030"])
def test_it_reads_csv_in_the_encodings_excel_and_wps_write(session, rt, units, tmp_path, encoding) -> None:
    path = csv_file(tmp_path / "f.csv", [
        ["督导轮次", "督导组", "督导日期", "责任单位", "存在问题", "整改要求", "整改时限"],
        ["2024年第一轮", "第二督导组", "2024-01-10", "城关镇", "食堂卫生不达标，“三防”设施缺失", "立即整改",
         "立行立改"],
        ["2024年第一轮", "第二督导组", "2024-01-10", "教体局", "校车台账不全", "完善台账", "2024年1月31日前"],
    ], encoding)
    report = run(session, rt, path)
    session.commit()
    assert report.created == 2
    problems = set(session.scalars(select(Finding.problem)))
    assert problems == {"食堂卫生不达标，“三防”设施缺失", "校车台账不全"}
    assert session.scalar(select(SupervisionGroup.name)) == "第二督导组"


def test_it_reads_an_upload_from_bytes_or_a_stream(session, rt, units, tmp_path) -> None:
    data = csv_file(tmp_path / "f.csv", [HEAD, [1, "U-1", "", "", "城关镇", "问题", "", "长期坚持", "", ""]],
                    "gbk").read_bytes()
    first = run(session, rt, data, filename="上传.csv", round_name="R", inspected_on=date(2024, 1, 10))
    again = run(session, rt, io.BytesIO(data), filename="上传.csv", round_name="R", inspected_on=date(2024, 1, 10))
    assert (first.source, first.created, again.unchanged) == ("上传.csv", 1, 1)


def test_it_matches_units_by_name_alias_prefix_width_and_spaces(session, rt, units, tmp_path) -> None:
    names = ["鲁山县财政局", "财政局", " 县财政 ", "鲁山县 教育体育局", "教体局", "ＸＸ", "人社局"]
    unit_cells = [*names[:-2], "县教体局", "人社局"]
    rows = [HEAD] + [[i, "", "", "", u, f"问题{i}", "", "长期坚持", "", ""] for i, u in enumerate(unit_cells, 1)]
    report = run(session, rt, csv_file(tmp_path / "f.csv", rows), round_name="R", inspected_on=date(2024, 1, 10))
    session.commit()
    assert report.created == 7
    got = dict(session.execute(select(Finding.problem, Unit.name).join(Unit)).all())
    assert got == {"问题1": "鲁山县财政局", "问题2": "鲁山县财政局", "问题3": "鲁山县财政局",
                   "问题4": "鲁山县教育体育局", "问题5": "鲁山县教育体育局", "问题6": "鲁山县教育体育局",
                   "问题7": "鲁山县人力资源和社会保障局"}


# --- refusing ----------------------------------------------------------------------------------------

def test_it_lists_every_bad_row_and_writes_nothing(session, rt, units, tmp_path) -> None:
    other = factory.round_(session, "2023年回头看")
    factory.finding(session, unit=units["城关镇"], round=other, code="OLD-1")
    factory.unit(session, "第一中学", aliases=["一中"])
    factory.unit(session, "第二中学", aliases=["一中"])  # an alias two units share
    session.commit()
    run(session, rt, csv_file(tmp_path / "ok.csv", [
        HEAD, [1, "K-1", "第一督导组", "2024-01-10", "城关镇", "已有问题", "整改", "长期坚持", "", ""]]),
        round_name="2024年第一轮")
    session.commit()
    before = dump(session)

    rows = [
        ["督导轮次", *HEAD],
        ["2024年第一轮", 1, "B-1", "第一督导组", "2024-01-10", "城关镇", "好的一行", "整改", "5个工作日内", "", ""],
        ["2024年第一轮", 2, "B-2", "第一督导组", "2024-01-10", "财务局", "单位写错", "整改", "5个工作日内", "", ""],
        ["2024年第一轮", 3, "B-3", "第一督导组", "2024-13-10", "城关镇", "日期写错", "整改", "5个工作日内", "", ""],
        ["2024年第一轮", 4, "B-4", "第一督导组", "2024-01-10", "城关镇", "时限写错", "整改", "尽快", "", ""],
        ["2024年第一轮", 5, "B-5", "第一督导组", "2024-01-10", "城关镇", "时限过早", "整改", "2024-01-09", "", ""],
        ["2024年第一轮", 6, "B-6", "第一督导组", "2024-01-10", "城关镇", "", "整改", "5个工作日内", "", ""],
        ["2024年第一轮", 7, "B-1", "第一督导组", "2024-01-10", "城关镇", "编号重复", "整改", "长期坚持", "", ""],
        ["2024年第一轮", 8, "", "第一督导组", "2024-01-10", "城关镇", "好的一行", "整改", "长期坚持", "", ""],
        ["2024年第一轮", 9, "OLD-1", "第一督导组", "2024-01-10", "城关镇", "别轮编号", "整改", "长期坚持", "", ""],
        ["2024年第一轮", 10, "B-10", "第一督导组", "2024-01-10", "一中", "两校同名", "整改", "长期坚持", "", ""],
        ["2024年第一轮", 11, "B-11", "第一督导组", "2040-01-06", "城关镇", "日历没有", "整改", "5个工作日内", "", ""],
        ["2024年第一轮", 12, "X" * 65, "第一督导组", "2024-01-10", "城关镇", "编号太长", "整改", "长期坚持", "", ""],
        ["", 13, "B-13", "第一督导组", "2024-01-10", "城关镇", "缺轮次", "整改", "长期坚持", "", ""],
        ["2024年第一轮", 14, "B-14", "第一督导组", "", "城关镇", "缺日期", "整改", "长期坚持", "", ""],
        ["2024年第一轮", 15, "B-15", "第一督导组", "2024-01-10", "", "缺单位", "整改", "长期坚持", "", ""],
        ["2024年第一轮", 16, "B-16", "第一督导组", "2024-01-10", "城关镇", "缺时限", "整改", "", "", ""],
        ["", "", "", "", "", "", "", "", "", "", ""],  # blank rows are skipped, not errors
        ["2024年第一轮", 18, "B-18", "第一督导组", "2024-01-10", "城关镇", "末行", "整改", "0个工作日内", "", ""],
        ["2024年第一轮", 19, "", "第一督导组", "2024-01-10", "城关镇", "时限写错", "整改", "长期坚持", "", ""],
    ]
    with pytest.raises(ImportRejected) as caught:
        run(session, rt, xlsx(tmp_path / "bad.xlsx", rows))
    session.rollback()
    assert dump(session) == before  # all or nothing

    got = [(e.row, e.column, e.value, e.code) for e in caught.value.errors]
    assert got == [
        (3, "责任单位", "财务局", "unknown_unit_hint"),
        (4, "督导日期", "2024-13-10", "bad_date"),
        (5, "整改时限", "尽快", "bad_deadline"),
        (6, "整改时限", "2024-01-09", "deadline_before_inspection"),
        (7, "问题描述", "", "required"),
        (8, "编号", "B-1", "duplicate_code"),
        (9, "问题描述", "好的一行", "duplicate_row"),
        (10, "编号", "OLD-1", "code_other_round"),
        (11, "责任单位", "一中", "ambiguous_unit"),
        (12, "整改时限", "5个工作日内", "calendar"),
        (13, "编号", "X" * 59 + "…", "too_long"),
        (14, "督导轮次", "", "required"),
        (15, "督导日期", "", "required"),
        (16, "责任单位", "", "required"),
        (17, "整改时限", "", "required"),
        (19, "整改时限", "0个工作日内", "zero_days"),
        (20, "问题描述", "时限写错", "duplicate_row"),  # of row 5, itself bad: told now, not after a fix
    ]
    again = pickle.loads(pickle.dumps(caught.value))  # Prefect may carry it across processes
    assert str(again) == str(caught.value) and again.errors == caught.value.errors
    messages = {e.row: e.message for e in caught.value.errors}
    assert "鲁山县财政局" in messages[3]  # suggests the closest known name
    assert "第2行" in messages[9] and "第2行" in messages[8]
    assert "2023年回头看" in messages[10]
    assert "第一中学" in messages[11] and "第二中学" in messages[11]
    assert "2040" in messages[12]
    report = str(caught.value)
    assert "发现17处错误，涉及17行" in report and "第19行「整改时限」“0个工作日内”" in report


def test_it_refuses_files_it_cannot_use_with_a_message(session, rt, units, tmp_path) -> None:
    cases = {
        "missing": (csv_file(tmp_path / "m.csv", [["责任单位", "问题描述"], ["城关镇", "x"]]), "整改时限"),
        "broken xls": (tmp_path / "old.xls", "无法读取"),
        "no header": (csv_file(tmp_path / "h.csv", [["a", "b"], ["c", "d"]]), "表头"),
        "empty": (csv_file(tmp_path / "e.csv", [["责任单位", "问题描述", "整改时限", "督导日期"]]), "没有数据行"),
        "sheet": (xlsx(tmp_path / "s.xlsx", [HEAD]), "现有：问题清单"),
        "not a workbook": (tmp_path / "broken.xlsx", "无法读取"),
        "no file": (tmp_path / "nowhere.xlsx", "找不到文件"),
    }
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really")
    for name, (path, words) in cases.items():
        with pytest.raises(IntakeError) as caught:
            run(session, rt, path, round_name="R", sheet="别的表" if name == "sheet" else None,
                inspected_on=date(2024, 1, 10))
        assert words in str(caught.value), name
    assert session.scalar(select(func.count()).select_from(Finding)) == 0


# --- re-import -----------------------------------------------------------------------------------------

def test_it_reimports_the_same_file_without_creating_anything(session, rt, units, tmp_path) -> None:
    rows = [HEAD] + [[i, "", "第一督导组", "2024-01-10", "城关镇", f"问题{i}", "整改", "5个工作日内", "", ""]
                     for i in range(1, 6)]
    path = csv_file(tmp_path / "f.csv", rows, "gbk")
    first = run(session, rt, path, round_name="2024年第一轮")
    session.commit()
    codes = sorted(session.scalars(select(Finding.code)))
    rid = session.scalar(select(Round.id))
    assert codes == [f"R{rid}-{n:04d}" for n in range(1, 6)]  # generated, documented
    before = dump(session)
    again = run(session, rt, path, round_name="2024年第一轮")
    session.commit()
    assert (first.created, again.created, again.updated, again.unchanged) == (5, 0, 0, 5)
    assert dump(session) == before

    # One more row: it gets the next number; the others keep theirs.
    rows.append([6, "", "第一督导组", "2024-01-10", "城关镇", "问题6", "整改", "5个工作日内", "", ""])
    third = run(session, rt, csv_file(tmp_path / "g.csv", rows), round_name="2024年第一轮")
    session.commit()
    assert (third.created, third.unchanged) == (1, 5)
    assert sorted(session.scalars(select(Finding.code))) == [f"R{rid}-{n:04d}" for n in range(1, 7)]


def test_it_updates_a_changed_opinion_or_deadline_and_records_why(session, rt, units, tmp_path) -> None:
    rows = [HEAD,
            [1, "C-1", "第一督导组", "2024-01-10", "城关镇", "问题一", "整改", "2024-01-31", "", ""],
            [2, "", "第一督导组", "2024-01-10", "城关镇", "问题二", "整改", "5个工作日内", "", ""],
            [3, "C-3", "第一督导组", "2024-01-10", "城关镇", "问题三", "整改", "长期坚持", "", ""]]
    run(session, rt, xlsx(tmp_path / "a.xlsx", rows), round_name="R1")
    session.commit()
    rows[1][6] = "限期整改并举一反三"
    rows[2][7] = "2024-02-29"
    rows[2][5] = " 问题 二 "  # same problem, matched by its text
    rows[3][7] = "长期坚持"
    report = run(session, rt, xlsx(tmp_path / "b.xlsx", rows), round_name="R1")
    session.commit()
    assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
    f = by_code(session)
    assert f["C-1"].opinion == "限期整改并举一反三" and f["C-1"].version == 2
    two = next(x for x in f.values() if x.problem == "问题二")
    assert (two.deadline_kind, two.due_date, two.original_due_date, two.deadline_text) == (
        "fixed", date(2024, 2, 29), date(2024, 2, 29), "2024-02-29")
    updates = session.execute(select(Event.finding_id, Event.data).where(Event.kind == "update")).all()
    changes = {fid: data["changes"] for fid, data in updates}
    assert changes[f["C-1"].id] == {"opinion": ["整改", "限期整改并举一反三"]}
    assert changes[two.id] == {"due_date": ["2024-01-17", "2024-02-29"]}


def test_it_checks_a_dry_run_and_writes_nothing(session, rt, units, tmp_path) -> None:
    before = dump(session)
    row = [1, "D-1", "第九督导组", "2024-01-10", "城关镇", "p", "o", "月底前", "", ""]
    path = xlsx(tmp_path / "a.xlsx", [HEAD, row])
    report = run(session, rt, path, round_name="新一轮", dry_run=True)
    session.commit()
    assert (report.dry_run, report.created) == (True, 1)
    assert (report.new_rounds, report.new_groups) == (["新一轮"], ["第九督导组"])
    assert dump(session) == before


def test_it_reads_merged_cells_and_a_chosen_sheet(session, rt, units, tmp_path) -> None:
    rows = [["说明：本表由督导组填写"], HEAD,
            [1, "M-1", "第一督导组", datetime(2024, 1, 10), "城关镇", "问题一", "整改", "长期坚持", "", ""],
            [2, "M-2", None, None, None, "问题二", "整改", "长期坚持", "", ""],
            [3, "M-3", None, None, "教体局", "问题三", "整改", "长期坚持", "", ""]]
    path = xlsx(tmp_path / "m.xlsx", rows, merges=("A1:J1", "C3:C5", "D3:D5", "E3:E4"), sheet="第二张",
                more_sheets=("封面",))
    wb = load_workbook(path)
    wb.move_sheet("封面", offset=-1)  # the findings are not on the first sheet
    wb.save(path)
    report = run(session, rt, path, round_name="R", sheet="第二张")
    session.commit()
    assert report.created == 3
    got = dict(session.execute(select(Finding.code, Unit.name).join(Unit)).all())
    assert got == {"M-1": "城关镇", "M-2": "城关镇", "M-3": "鲁山县教育体育局"}
    assert session.scalar(select(func.count()).where(Finding.group_id.is_not(None))) == 3
