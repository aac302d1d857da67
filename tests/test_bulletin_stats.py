"""The bulletin's figures from plain rows: counting rules, office order, 通报, the item-list limit."""

from datetime import date

import pytest

from rectify.bulletin.stats import FindingRow, UnitRow, compute, notify_level
from rectify.config import default_ladder
from rectify.core.ladder import steps_from
from rectify.templating import render

LADDER = steps_from(default_ladder())
AS_OF = date(2024, 1, 19)
UNITS = [UnitRow(1, "琴台街道", "township", 0), UnitRow(2, "县财政局", "county", 2),
         UnitRow(3, "县公安局", "county", 1), UnitRow(4, "张官营镇", "township", 0)]


def row(i: int, unit: int, state: str = "open", *, due: date | None = date(2024, 1, 31), closed: date | None = None,
        new: bool = False, level: int = 0, group: int | None = 1, inspected: date = date(2024, 1, 10)) -> FindingRow:
    return FindingRow(id=i, unit_id=unit, state=state, inspected_on=inspected, due_date=due, level=level,
                      group_id=group, closed_on=closed, problem=f"问题{i}", measures=f"措施{i}", new_closure=new)


def test_it_counts_the_lead_figures() -> None:
    rows = [
        row(1, 2, "closed", closed=date(2024, 1, 18), new=True),
        row(2, 2, "closed", closed=date(2024, 1, 5), group=2),  # closed in an earlier period
        row(3, 3, due=date(2024, 1, 15)),  # overdue
        row(4, 3, "rejected", due=date(2024, 1, 18)),  # sent back: still owed, overdue
        row(5, 1, "reported", due=date(2024, 1, 15)),  # waiting for verification: not overdue
        row(6, 1, due=AS_OF),  # due today: not yet overdue
    ]
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER)
    assert (s.groups, s.found, s.closed, s.new_closed, s.overdue, s.overdue_units) == (2, 6, 2, 1, 2, 1)
    assert render("bulletin/lead.txt", s=s, as_of=AS_OF).strip() == (
        "截至1月19日，2个督导组共督导发现问题6个，已整改销号2个，整改完成率33.3%；本期新增销号1个；"
        "逾期未整改2个，涉及1个单位。")


def test_it_leaves_out_cancelled_findings_and_those_found_after_the_day() -> None:
    rows = [row(1, 2), row(2, 2, "cancelled"), row(3, 2, inspected=date(2024, 1, 20))]
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER)
    assert s.found == 1 and [u.found for u in s.units] == [1]


def test_it_counts_a_closure_after_the_day_as_still_open() -> None:
    rows = [row(1, 2, "closed", due=date(2024, 1, 10), closed=date(2024, 1, 22))]
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER)
    assert (s.closed, s.overdue) == (0, 1)


def test_it_says_so_when_nothing_is_overdue() -> None:
    s = compute(UNITS, [row(1, 2)], as_of=AS_OF, ladder=LADDER)
    assert s.overdue == 0
    assert render("bulletin/lead.txt", s=s, as_of=AS_OF).strip().endswith("本期新增销号0个；无逾期未整改问题。")


def test_it_lists_county_departments_then_townships_by_sort_order_then_name() -> None:
    rows = [row(i, u) for i, u in enumerate([1, 2, 3, 4], start=1)]
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER)
    assert [u.unit for u in s.units] == ["县公安局", "县财政局", "张官营镇", "琴台街道"]


def test_it_follows_an_explicit_unit_order_and_appends_the_units_it_does_not_name() -> None:
    rows = [row(i, u) for i, u in enumerate([1, 2, 3, 4], start=1)]
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER, unit_order=["琴台街道", "县财政局"])
    assert [u.unit for u in s.units] == ["琴台街道", "县财政局", "县公安局", "张官营镇"]


def test_it_names_units_whose_unfinished_findings_reached_the_notify_step() -> None:
    assert notify_level(LADDER) == 5
    rows = [
        row(1, 2, level=5, due=date(2024, 1, 2)),
        row(2, 2, "rejected", level=5, due=date(2024, 1, 2)),
        row(3, 3, level=4, due=date(2024, 1, 2)),  # 督办, not yet 通报
        row(4, 1, "reported", level=5, due=date(2024, 1, 2)),  # the unit has reported: not named
        row(5, 4, "closed", level=5, closed=date(2024, 1, 18)),
    ]
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER)
    assert [(n.unit, n.count) for n in s.notified] == [("县财政局", 2)]
    assert "予以通报：县财政局（2个）。" in render("bulletin/notify.txt", s=s)


def test_it_names_nobody_without_a_notify_step() -> None:
    s = compute(UNITS, [row(1, 2, level=5)], as_of=AS_OF, ladder=LADDER[:3])
    assert s.notified == []
    assert render("bulletin/notify.txt", s=s).strip() == "本期无通报单位。"


def test_it_lists_the_new_closures_in_office_order_then_by_day() -> None:
    rows = [row(1, 2, "closed", closed=date(2024, 1, 18), new=True),
            row(2, 3, "closed", closed=date(2024, 1, 19), new=True),
            row(3, 3, "closed", closed=date(2024, 1, 16), new=True),
            row(4, 3, "closed", closed=date(2024, 1, 2))]  # reported in an earlier bulletin
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER)
    assert not s.summarised
    assert [(i.unit, i.problem, i.closed_on.day) for i in s.items] == [
        ("县公安局", "问题3", 16), ("县公安局", "问题2", 19), ("县财政局", "问题1", 18)]


def test_it_summarises_the_closures_per_unit_past_the_limit() -> None:
    rows = [row(i, 1 + i % 3, "closed", closed=date(2024, 1, 18), new=True) for i in range(10)]
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER, item_list_limit=9)
    assert s.summarised and s.items == []
    assert [(c.unit, c.count) for c in s.items_by_unit] == [("县公安局", 3), ("县财政局", 3), ("琴台街道", 4)]
    assert render("bulletin/items_note.txt", s=s).strip().startswith("本期新增销号问题10个，涉及3个单位")


def test_it_refuses_a_finding_of_an_unknown_unit() -> None:
    with pytest.raises(ValueError, match="unit 99"):
        compute(UNITS, [row(1, 99)], as_of=AS_OF, ladder=LADDER)
