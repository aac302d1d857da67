"""The bulletin against the original and the current deadline, and 反弹 after 回头看."""

from datetime import UTC, date, datetime

import docx

from rectify.bulletin.issue import compile_issue
from rectify.bulletin.stats import FindingRow, UnitRow, compute
from rectify.config import default_ladder
from rectify.core.ladder import steps_from
from rectify.templating import render
from tests.support.practice import AS_OF, seed_county

LADDER = steps_from(default_ladder())
UNITS = [UnitRow(1, "县财政局"), UnitRow(2, "城关镇", "township")]


def row(i: int, unit: int, state: str = "open", *, due: date, original: date | None = None, extensions: int = 0,
        closed: date | None = None, done: date | None = None, reopened: tuple[date, ...] = ()) -> FindingRow:
    return FindingRow(id=i, unit_id=unit, state=state, inspected_on=date(2024, 3, 1), due_date=due,
                      closed_on=closed, original_due=original, extensions=extensions, done_on=done,
                      reopened_on=reopened, new_closure=closed is not None)


def test_it_counts_an_extended_finding_on_time_by_the_new_date_and_late_by_the_first() -> None:
    rows = [row(1, 1, due=date(2024, 3, 29), original=date(2024, 3, 15), extensions=1),  # open, past 3月15日
            row(2, 2, "closed", due=date(2024, 3, 15), original=date(2024, 3, 8), extensions=1,
                closed=date(2024, 3, 18), done=date(2024, 3, 14)),  # done by the new date only
            row(3, 2, "closed", due=date(2024, 3, 20), closed=date(2024, 3, 21))]  # late: closed a day after
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER)
    assert (s.extended, s.overdue, s.overdue_original, s.on_time, s.on_time_original) == (2, 0, 1, 1, 0)
    assert [(u.unit, u.overdue, u.overdue_original) for u in s.units] == [("县财政局", 0, 1), ("城关镇", 0, 0)]
    assert [(i.due, i.original_due) for i in s.items] == [(date(2024, 3, 15), date(2024, 3, 8)),
                                                          (date(2024, 3, 20), date(2024, 3, 20))]
    assert render("bulletin/lead.txt", s=s, as_of=AS_OF).strip().endswith(
        "无逾期未整改问题。经批准延期整改的问题2个；按原定整改时限计，逾期未整改问题1个，"
        "已销号问题中按期完成0个（按现整改时限计1个）。")


def test_it_counts_findings_reopened_after_recheck_as_rebounds_in_and_before_the_period() -> None:
    rows = [row(1, 1, due=date(2024, 4, 3), reopened=(date(2024, 3, 20),)),
            row(2, 2, due=date(2024, 4, 3), reopened=(date(2024, 3, 4), date(2024, 3, 21))),  # twice: one finding
            row(3, 2, due=date(2024, 4, 3), reopened=(date(2024, 3, 5),)),
            row(4, 2, due=date(2024, 4, 3), reopened=(date(2024, 3, 25),))]  # after the day: not yet
    s = compute(UNITS, rows, as_of=AS_OF, ladder=LADDER, period_start=date(2024, 3, 16))
    assert (s.rebound, s.rebound_new) == (3, 2)
    assert [(u.unit, u.rebound) for u in s.units] == [("县财政局", 1), ("城关镇", 2)]
    assert "回头看发现问题反弹3个（本期2个），已重新交办限期整改。" in render("bulletin/lead.txt", s=s, as_of=AS_OF)
    assert compute(UNITS, rows, as_of=AS_OF, ladder=LADDER).rebound_new == 3  # the first bulletin: all of them


def test_it_keeps_the_lead_as_it_was_when_no_deadline_moved_and_nothing_came_back() -> None:
    s = compute(UNITS, [row(1, 1, due=date(2024, 3, 15), original=date(2024, 3, 15))], as_of=AS_OF, ladder=LADDER)
    assert not s.deadlines_differ and s.rebound == 0
    assert render("bulletin/lead.txt", s=s, as_of=AS_OF).strip().endswith("逾期未整改1个，涉及1个单位。")


def test_it_prints_both_deadlines_and_rebounds_in_the_issued_docx(rt) -> None:
    with rt.sessions() as s:
        seed_county(s)
    now = datetime(2024, 3, 19, 9, tzinfo=UTC)
    first = compile_issue(rt, as_of=date(2024, 3, 19), now=now, pdf=False)  # before the reopening on 3月20日
    second = compile_issue(rt, as_of=AS_OF, now=now, pdf=False)
    third = compile_issue(rt, as_of=date(2024, 3, 29), now=now, pdf=False, draft=True)
    assert (first.stats.rebound, second.stats.rebound, second.stats.rebound_new) == (0, 1, 1)
    assert (third.stats.rebound, third.stats.rebound_new) == (1, 0)
    assert second.stats.summary()["overdue_original"] == 2

    d = docx.Document(str(second.files["docx"]))
    paragraphs = [p.text for p in d.paragraphs]
    assert ("截至3月22日，共督导发现问题5个，已整改销号1个，整改完成率20.0%；本期新增销号0个；无逾期未整改问题。"
            "经批准延期整改的问题2个；按原定整改时限计，逾期未整改问题2个，已销号问题中按期完成0个（按现整改时限计1个）。"
            "回头看发现问题反弹1个（本期1个），已重新交办限期整改。") in paragraphs
    units = [[c.text for c in r.cells] for r in d.tables[0].rows]
    assert units[1:] == [["县财政局", "3", "0", "3", "1", "0", "0", "0.0%"],
                         ["城关镇", "2", "1", "1", "1", "0", "1", "50.0%"],
                         ["合计", "5", "1", "4", "2", "0", "1", "20.0%"]]
    items = [[c.text for c in r.cells] for r in docx.Document(str(first.files["docx"])).tables[1].rows]
    assert items[1][3:] == ["3月15日（原3月8日）", "3月18日"]  # P-4: extended, closed 3月18日
