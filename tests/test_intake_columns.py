"""The column-wise reading of a clean findings sheet (finding_columns.py) gives exactly the rows of the
row-by-row one (finding_rows.py), and any bad cell sends the sheet back to the row-by-row reading, so
errors name every bad row as before. Also: `fold`'s shortcut gives NFKC's answer for every character."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import date, datetime

import pytest

from rectify.core.workcal import package_calendar
from rectify.intake import ImportRejected
from rectify.intake.cells import fold, problem_key, squeeze, unit_key
from rectify.intake.column_keys import problem_keys, squeeze_all, unit_keys
from rectify.intake.finding_columns import clean_rows
from rectify.intake.finding_rows import UnitMatcher, duplicates, parse_rows
from rectify.intake.headers import finding_spec
from rectify.intake.read import read_table
from tests.support.intake import HEAD, csv_file, run, xlsx

UNITS = [(1, "鲁山县财政局", ["财政"]), (2, "城关镇", None), (3, "县教体局", ["教体局"])]


def both(path, *, round_option="2024年第一轮", date_option=None, group_option=None):
    """(row-by-row answer, column-wise answer) for one file."""
    cal = package_calendar()
    answers = []
    for read in (parse_rows, clean_rows):
        table = read_table(path, finding_spec())
        table.rows = list(table.rows)
        answers.append(read(table, UnitMatcher(UNITS, "鲁山县"), cal, 3, round_option, date_option, group_option,
                            None))
    return answers


def test_it_reads_a_clean_sheet_into_the_same_rows_either_way(tmp_path) -> None:
    d = datetime(2024, 1, 10)
    rows = [["2024年问题清单"], ["督导轮次", *HEAD]]
    for i in range(1, 41):
        rows.append([
            "" if i % 4 else " 2024年 第二轮 ", i if i % 3 else "", f"Ａ-{i:02d}" if i % 5 else "",
            "第一督导组" if i % 2 else "",
            d if i % 6 else "2024年1月11日", ["财政", "鲁山县财政局", "城关镇", "县教体局"][i % 4],
            f"问题（第{i}项）\n第二行 " if i % 7 else f"　全角空格开头的问题{i}", "整改" if i % 2 else "",
            ["5个工作日内", "10日内", "立行立改", "长期坚持", "月底前", datetime(2024, 3, 1), "2024/5/31"][i % 7],
            "张三" if i % 3 == 0 else "", "备注" if i % 8 == 0 else ""])
        if i % 13 == 0:
            rows.append([""] * 11)  # a blank row in between
    slow, fast = both(xlsx(tmp_path / "a.xlsx", rows, merges=("F3:F4",)), group_option="第九组")
    assert fast is not None and not slow[1]
    assert fast[0] == slow[0] and fast[3] == slow[3] == 40
    assert fast[2] == [] and duplicates(slow[2], None) == []  # no two rows are one finding: no identities needed
    assert {r.round_name for r in fast[0]} == {"2024年第一轮", "2024年 第二轮"}
    assert {r.group_name for r in fast[0]} == {"第一督导组", "第九组"}


def test_it_keeps_identities_when_two_rows_may_be_one_finding(tmp_path) -> None:
    rows = [HEAD, [1, "A-1", "", "2024-01-10", "城关镇", "同一问题", "", "长期坚持", "", ""],
            [2, "A-2", "", "2024-01-10", "城关镇", "同一问题", "", "长期坚持", "", ""],
            [3, "", "", "2024-01-10", "城关镇", "同一问题", "", "长期坚持", "", ""]]
    slow, fast = both(csv_file(tmp_path / "a.csv", rows))
    assert fast is not None and fast[0] == slow[0] and fast[2] == slow[2]
    assert [e.row for e in duplicates(fast[2], read_table(tmp_path / "a.csv", finding_spec()).header)] == [4]


@pytest.mark.parametrize("bad", [
    {"date": "2024-13-10"}, {"unit": "财务局"}, {"unit": ""}, {"deadline": "尽快"}, {"deadline": ""},
    {"problem": ""}, {"code": "X" * 65}, {"owner": "张" * 101}, {"date": ""}, {"deadline": "5个工作日内",
                                                                                  "date": "2040-01-06"},
])
def test_it_leaves_a_sheet_with_a_bad_cell_to_the_row_by_row_reading(tmp_path, bad) -> None:
    row = {"code": "A-1", "date": "2024-01-10", "unit": "城关镇", "problem": "问题", "deadline": "长期坚持",
           "owner": ""}
    cells = {**row, **bad}
    rows = [HEAD, [1, "A-0", "", "2024-01-10", "城关镇", "好的", "", "长期坚持", "", ""],
            [2, cells["code"], "", cells["date"], cells["unit"], cells["problem"], "", cells["deadline"],
             cells["owner"], ""]]
    slow, fast = both(csv_file(tmp_path / "a.csv", rows))
    assert fast is None and [e.row for e in slow[1]] == [3]


def test_it_names_every_row_of_a_bad_value_repeated_down_the_sheet(session, rt, tmp_path) -> None:
    from tests.support import factory

    factory.unit(session, "城关镇")
    session.commit()
    rows = [HEAD] + [[i, f"A-{i}", "", "2024-01-10", "城关镇" if i % 10 else "财务局", f"问题{i}", "",
                      "尽快" if i > 5 else "长期坚持", "", ""] for i in range(1, 31)]
    with pytest.raises(ImportRejected) as caught:
        run(session, rt, xlsx(tmp_path / "bad.xlsx", rows), round_name="2024年第一轮")
    got = [(e.row, e.column) for e in caught.value.errors]
    assert got[0] == (7, "整改时限")  # the first row holding the bad deadline, then every other one
    assert [r for r, c in got if c == "整改时限"] == list(range(7, 32))
    assert [r for r, c in got if c == "责任单位"] == [11, 21, 31]


def test_it_folds_every_character_as_nfkc_does() -> None:
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    assert all(fold(c) == unicodedata.normalize("NFKC", c) for c in chars)
    assert all(squeeze(f"a{c}b") == re.sub(r"\s+", "", unicodedata.normalize("NFKC", f"a{c}b")).lower() for c in chars)
    wide = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
    marks = ["\u0301", "\u0308", "\u3099", "\u309a", ""]
    for w in wide:
        for m in marks:
            for text in (w + m, "ａ" + w + m + "（１）", "カ" + w + m, m + w):
                assert fold(text) == unicodedata.normalize("NFKC", text), repr(text)
    assert fold("问题（第１项）　ＡＢＣ") == "问题(第1项) ABC"
    assert fold(date(2024, 1, 1).isoformat()) == "2024-01-01"


def test_it_keys_a_column_of_problems_and_unit_names_as_one_by_one() -> None:
    """`problem_keys` folds the texts joined: never across two texts (combining marks, Hangul jamo, a final
    sigma, whitespace at either end), whatever they hold."""
    pool = [*"ΣσςİIıＡ１，（）　 \t\n\u0301\u0308\u3099\u1100\u1161\u11a8가ﬁ①㍿ｶﾞ\u00a0\u2028\x1c\x1f\u0345Aa",
            "\U0001d400", "\U0001f600", "问题"]
    rnd = random.Random(14)
    for _ in range(200):
        texts = ["".join(rnd.choice(pool) for _ in range(rnd.randrange(0, 8))) for _ in range(50)]
        assert problem_keys(texts) == [problem_key(t) for t in texts]
        assert squeeze_all(texts) == [squeeze(t) for t in texts]
        names = [rnd.choice(["鲁山县", "县", "鲁山 县", ""]) + t for t in texts]
        assert unit_keys(names, "鲁山县") == [unit_key(t, "鲁山县") for t in names]
    assert problem_keys(["a\x00b", "ΑΣ", "Σa"]) == [problem_key("a\x00b"), problem_key("ΑΣ"), problem_key("Σa")]
    assert squeeze_all(["a\x00 b", "Ｂ"]) == ["a\x00b", "b"] and problem_keys([]) == squeeze_all([]) == []


def test_it_reads_a_sheet_without_blank_rows_the_same_either_way(tmp_path) -> None:
    """No blank row, 序号 as numbers, 编号 ASCII and not: the column-wide shortcuts give parse_rows's rows."""
    rows = [HEAD]
    for i in range(1, 31):
        rows.append([float(i) if i % 2 else i, f" A-{i:02d} " if i % 3 else f"Ａ-{i:02d}", "第一督导组",
                     datetime(2024, 1, 10), ["财政", "城关镇", "县教体局"][i % 3],
                     f" 问题 {i} " if i % 4 else f"问题\t{i}", "整改", "10日内", "", ""])
    slow, fast = both(xlsx(tmp_path / "a.xlsx", rows))
    assert fast is not None and not slow[1]
    assert fast[0] == slow[0] and fast[3] == slow[3] == 30
    assert [r.seq for r in fast[0]][:3] == [1, 2, 3] and fast[0][1].code == "A-02" and fast[0][2].code == "A-03"
