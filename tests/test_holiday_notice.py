"""The State Council's holiday notice read into a schedule: real notices kept verbatim, and what it refuses."""

from datetime import date
from pathlib import Path

import pytest
from chinese_calendar import constants

from rectify.core.holiday_notice import NoticeParseError, decode, parse_notice

NOTICES = Path(__file__).parent / "fixtures" / "notices"
ROOT = Path(__file__).resolve().parents[1]
# shared/ lies beside the checkout (CI, /work/main) or two levels up (a helper's worktree under wt/).
SHARED_2025 = next((p for p in (ROOT.parent / "shared", ROOT.parents[1] / "shared")
                    if (p / "reference" / "notice-2025.txt").exists()), ROOT.parent / "shared") / "reference" / \
    "notice-2025.txt"


def read(name: str) -> str:
    return (NOTICES / name).read_text(encoding="utf-8")


def package_year(year: int) -> tuple[list[date], list[date]]:
    return (sorted(d for d in constants.holidays if d.year == year),
            sorted(d for d in constants.workdays if d.year == year))


@pytest.mark.parametrize(("year", "document"), [(2024, "国办发明电〔2023〕7号"), (2025, "国办发明电〔2024〕12号"),
                                                (2026, "国办发明电〔2025〕7号")])
def test_it_reads_real_notices_exactly_as_the_package_has_them(year: int, document: str) -> None:
    s = parse_notice(read(f"notice-{year}.txt"))
    assert (s.year, s.document) == (year, document)
    assert (list(s.holidays), list(s.workdays)) == package_year(year)


@pytest.mark.parametrize("year", [2022, 2023])
def test_it_reads_older_notices_up_to_the_neighbouring_new_year_weekends(year: int) -> None:
    # chinese-calendar files the weekend days of the next year's 元旦 (2022-12-31; 2023-12-30/31) under the
    # earlier year; a notice lists them under the year it schedules. Nothing else may differ.
    s = parse_notice(read(f"notice-{year}.txt"))
    holidays, workdays = package_year(year)
    assert list(s.workdays) == workdays
    extra = set(holidays) - set(s.holidays)
    assert set(s.holidays) <= set(holidays)
    assert extra and all(d.month == 12 and d.day >= 30 and d.weekday() >= 5 for d in extra)


def test_it_equals_the_shared_2025_reference_verbatim() -> None:
    if not SHARED_2025.exists():  # the fixture is a byte copy of it
        pytest.skip("shared reference not laid out beside this checkout")
    assert SHARED_2025.read_bytes() == (NOTICES / "notice-2025.txt").read_bytes()


def test_it_reads_a_crossing_year_range_and_a_year_prefix() -> None:
    s = parse_notice(read("notice-2023.txt"))
    assert date(2023, 1, 1) in s.holidays and date(2023, 1, 2) in s.holidays
    assert date(2022, 12, 31) not in s.holidays  # belongs to the 2022 schedule
    assert parse_notice(read("notice-2022.txt")).holidays[:3] == (date(2022, 1, 1), date(2022, 1, 2),
                                                                  date(2022, 1, 3))


def test_it_reads_gbk_and_half_width_punctuation_and_one_line_pastes() -> None:
    text = read("notice-2026.txt")
    expected = parse_notice(text)
    assert parse_notice(decode(text.encode("gb18030"))) == expected
    assert parse_notice(decode(("\ufeff" + text).encode("utf-8"))) == expected
    half = text.replace("，", ",").replace("：", ":").replace("（", "(").replace("）", ")")
    assert parse_notice(half) == expected
    assert parse_notice(text.replace("\n", "  ")) == expected


def test_it_prints_the_json_shape_of_the_issue() -> None:
    j = parse_notice(read("notice-2025.txt")).as_json()
    assert set(j) == {"year", "holidays", "workdays", "document"}
    assert j["workdays"] == ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]
    assert j["holidays"][:2] == ["2025-01-01", "2025-01-28"]


Y24, Y25 = "notice-2024.txt", "notice-2025.txt"
BAD = [  # (fixture, text in it, replaced by, expected message)
    (Y25, "一、元旦：1月1日（周三）放假1天，不调休。",
     "一、元旦：1月1日（周四）放假1天，不调休。", "the notice says 周四"),
    (Y25, "共8天。1月26日", "共9天。1月26日", "共9天"),
    (Y25, "4月27日（周日）上班", "5月1日（周四）上班", "already a working day"),
    (Y25, "9月28日（周日）、10月11日（周六）上班",
     "9月28日（周日）、10月4日（周六）上班", "both a day off"),
    (Y24, "五、端午节：6月10日放假", "五、端午节：2025年6月10日放假", "outside 2024"),
    (Y25, "三、清明节：4月4日（周五）至6日（周日）放假",
     "三、清明节：4月4日（周五）至2日（周三）放假", "ends before it starts"),
    (Y25, "三、清明节：4月4日（周五）至6日（周日）放假，共3天。",
     "三、清明节：清明节当天放假。", "no “…放假” sentence"),
]


@pytest.mark.parametrize(("name", "old", "new", "message"), BAD)
def test_it_names_the_item_line_and_why(name: str, old: str, new: str, message: str) -> None:
    text = read(name)
    assert old in text
    with pytest.raises(NoticeParseError, match=message) as exc:
        parse_notice(text.replace(old, new))
    assert "notice item “" in str(exc.value)


def test_it_refuses_a_text_that_is_not_a_holiday_notice() -> None:
    with pytest.raises(NoticeParseError, match="not a holiday notice"):
        parse_notice("关于印发某某办法的通知\n一、总则：略。")
    with pytest.raises(NoticeParseError, match="neither UTF-8 nor GBK"):
        decode(b"\xff\xfe\x00\xd8\x00")


def test_it_ignores_preamble_dates_encouragements_and_the_signature() -> None:
    s = parse_notice(read("notice-2024.txt"))  # 除夕（2月9日）休息 is encouraged, not scheduled
    assert date(2024, 2, 9) not in s.holidays
    s = parse_notice(read("notice-2025.txt"))  # 自2025年1月1日起 and 2024年11月12日 are not days off
    assert date(2024, 11, 12) not in s.holidays


def test_it_reads_the_synthetic_2027_notice() -> None:
    s = parse_notice(read("synthetic-notice-2027.txt"))
    assert s.year == 2027 and len(s.holidays) == 28 and len(s.workdays) == 6
    assert date(2027, 6, 9) in s.holidays  # 放假1天，不调休
