"""The pure side of intake: deadline and date cells, names, headers, encodings. Table tests, no database."""

from datetime import date, datetime

import pytest

from rectify.core.deadlines import DeadlineRule
from rectify.intake.cells import (
    CellError,
    cell_text,
    cn_number,
    parse_date,
    parse_deadline,
    parse_email,
    parse_int,
    problem_key,
    split_list,
    unit_key,
)
from rectify.intake.errors import IntakeError
from rectify.intake.headers import find_header, finding_spec, header_key, unit_spec
from rectify.intake.read import decode

INSPECTED = date(2024, 3, 15)


@pytest.mark.parametrize(
    ("cell", "rule"),
    [
        (datetime(2024, 4, 30), DeadlineRule.fixed(date(2024, 4, 30))),
        (date(2024, 4, 30), DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024-04-30", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024-04-30 00:00:00", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024/4/30", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024.4.30", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024年4月30日", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024年4月30日前", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024年4月30日前完成", DeadlineRule.fixed(date(2024, 4, 30))),
        ("２０２４年４月３０日", DeadlineRule.fixed(date(2024, 4, 30))),  # full-width digits
        (" 2024 年 4 月 30 日 ", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024年4月底前", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2024-03-15", DeadlineRule.fixed(date(2024, 3, 15))),  # on the inspection day is fine
        # month-day without a year: the next such date on or after the inspection date
        ("4月30日前", DeadlineRule.fixed(date(2024, 4, 30))),
        ("3月15日前", DeadlineRule.fixed(date(2024, 3, 15))),
        ("1月31日前", DeadlineRule.fixed(date(2025, 1, 31))),
        ("１月３１日前", DeadlineRule.fixed(date(2025, 1, 31))),
        ("2月29日前", DeadlineRule.fixed(date(2028, 2, 29))),  # next leap day after March 2024
        ("4月30号", DeadlineRule.fixed(date(2024, 4, 30))),
        ("2月底前", DeadlineRule.fixed(date(2025, 2, 28))),
        ("6月底前", DeadlineRule.fixed(date(2024, 6, 30))),
        ("三月底", DeadlineRule.fixed(date(2024, 3, 31))),
        ("月底前", DeadlineRule.fixed(date(2024, 3, 31))),
        ("本月底", DeadlineRule.fixed(date(2024, 3, 31))),
        ("年底前", DeadlineRule.fixed(date(2024, 12, 31))),
        # counted from the inspection date
        ("5个工作日内", DeadlineRule.working_days(5)),
        ("５个工作日内", DeadlineRule.working_days(5)),
        ("十五个工作日内", DeadlineRule.working_days(15)),
        ("10日内", DeadlineRule.calendar_days(10)),
        ("30天内", DeadlineRule.calendar_days(30)),
        ("二十天内完成", DeadlineRule.calendar_days(20)),
        ("立行立改", DeadlineRule.immediate()),
        ("立即整改", DeadlineRule.immediate()),
        ("长期坚持", DeadlineRule.long_term()),
        ("长期坚持。", DeadlineRule.long_term()),
    ],
)
def test_it_reads_every_deadline_form(cell, rule) -> None:
    assert parse_deadline(cell, INSPECTED).rule == rule


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("", "required"),
        (None, "required"),
        ("尽快", "bad_deadline"),
        ("下周", "bad_deadline"),
        ("5日", "bad_deadline"),  # the 5th? five days? refused rather than guessed
        ("2024-02-30", "bad_date"),
        ("2024年13月1日", "bad_date"),
        ("13月1日前", "bad_date"),
        ("2月30日前", "bad_date"),
        ("0个工作日内", "zero_days"),
        ("2024-03-14", "deadline_before_inspection"),
        (date(2023, 12, 31), "deadline_before_inspection"),
        ("2024年2月底前", "deadline_before_inspection"),
        (45322, "bad_deadline"),  # a bare number is not taken for an Excel date
    ],
)
def test_it_refuses_a_deadline_it_cannot_read(cell, code) -> None:
    with pytest.raises(CellError) as caught:
        parse_deadline(cell, INSPECTED)
    assert caught.value.code == code


def test_it_keeps_the_deadline_text_as_typed() -> None:
    assert parse_deadline(" 1月31日前 ", INSPECTED).text == "1月31日前"
    assert parse_deadline(datetime(2024, 4, 30), INSPECTED).text == "2024-04-30"


@pytest.mark.parametrize(
    ("cell", "day"),
    [
        (datetime(2024, 1, 10, 9, 30), date(2024, 1, 10)),
        ("2024-01-10", date(2024, 1, 10)),
        ("2024/1/10", date(2024, 1, 10)),
        ("2024.1.10", date(2024, 1, 10)),
        ("2024年1月10日", date(2024, 1, 10)),
        ("２０２４－０１－１０", date(2024, 1, 10)),
        ("20240110", date(2024, 1, 10)),
    ],
)
def test_it_reads_inspection_dates(cell, day) -> None:
    assert parse_date(cell) == day


@pytest.mark.parametrize("cell", ["1月10日", "2024-1", "昨天", "2024-02-30"])
def test_it_refuses_an_incomplete_inspection_date(cell) -> None:
    with pytest.raises(CellError):
        parse_date(cell)


@pytest.mark.parametrize(("text", "n"), [("5", 5), ("十", 10), ("十五", 15), ("二十", 20), ("二十三", 23),
                                         ("一百零五", 105), ("两", 2), ("五x", None)])
def test_it_reads_chinese_numbers(text, n) -> None:
    assert cn_number(text) == n


def test_it_compares_unit_names_without_the_county_prefix_width_or_spaces() -> None:
    assert unit_key("鲁山县财政局", "鲁山县") == unit_key("财政局", "鲁山县") == unit_key("县财政局", "鲁山县")
    assert unit_key(" 城关 镇 ", "鲁山县") == unit_key("城关镇", "鲁山县")
    assert unit_key("ＡＢＣ局") == unit_key("abc局")
    assert unit_key("鲁山县", "鲁山县") == "鲁山县"  # never stripped to nothing


def test_it_keys_problems_on_their_text_not_its_spacing() -> None:
    assert problem_key("未公开 执法信息。") == problem_key(" 未公开执法信息。\n")
    assert problem_key("未公开执法信息") != problem_key("未公开行政执法信息")


def test_it_reads_plain_cells() -> None:
    assert cell_text(101.0) == "101"
    assert cell_text("a\r\nb\x07 ") == "a\nb"
    assert split_list("财政局、县财政，财政; 财政局\n预算办") == ["财政局", "县财政", "财政", "预算办"]
    assert parse_int("３") == 3 and parse_int(2.0) == 2 and parse_int("一") is None
    assert parse_email(" Zhang.San@Example.GOV.cn ") == "zhang.san@example.gov.cn"
    assert parse_email("") is None
    with pytest.raises(CellError):
        parse_email("zhang@")


def test_it_finds_the_header_below_a_title_row() -> None:
    rows = [(1, ["2024年第一轮督导发现问题清单"]), (2, []),
            (3, ["序号", " 责任单位* ", "存在问题", "整改措施", "整改要求", "整改时限（必填）", "联系电话"])]
    header = find_header(rows, finding_spec())
    assert header is not None and header.row == 3
    assert header.columns == {"seq": 0, "unit": 1, "problem": 2, "opinion": 4, "deadline": 5}
    assert header.ignored == ["整改措施", "联系电话"]  # 整改要求 outranks 整改措施


def test_it_reads_english_and_full_width_headers() -> None:
    header = find_header([(1, ["No", "Unit", "Problem", "Deadline", "Ｏｐｉｎｉｏｎ"])], finding_spec())
    assert header is not None and set(header.columns) == {"seq", "unit", "problem", "deadline", "opinion"}
    assert header_key("单位名称（全称）") == "单位名称"
    assert find_header([(1, ["单位名称", "简称/别名"])], unit_spec()) is not None


def test_it_detects_csv_encodings() -> None:
    text = "责任单位,问题描述\n城关镇,未公开\n"
    assert decode(text.encode("utf-8")) == text
    assert decode(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode(text.encode("gbk")) == text
    assert decode(text.encode("gb18030")) == text
    assert decode(text.encode("utf-16")) == text
    with pytest.raises(IntakeError):
        decode(b"\xff\xff\xff\x80\x80")
