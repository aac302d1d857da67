"""The weekly digest's colours, both deadlines and 回头看 (pure figures, then the rendered mail from the database)."""

from datetime import date

from rectify.bulletin.digest import build, render_digest
from rectify.bulletin.stats import UnitRow
from rectify.bulletin.weekly import DigestRow, compute_digest
from rectify.config import SupervisionSettings, default_ladder
from rectify.core.ladder import steps_from
from rectify.runtime import load_calendar
from tests.support import practice as step
from tests.support.practice import AS_OF, seed_county

CAL = load_calendar(None)
LADDER = steps_from(default_ladder())
MON, FRI = date(2024, 3, 18), date(2024, 3, 22)
UNITS = [UnitRow(1, "县财政局", "county", 1), UnitRow(3, "县公安局", "county", 2), UnitRow(4, "县教体局", "county", 3),
         UnitRow(2, "琴台街道", "township", 0)]


def r(i: int, unit: int = 1, state: str = "open", *, due: date | None = None, closed: date | None = None,
      **kw) -> DigestRow:
    return DigestRow(i, unit, state, date(2024, 3, 1), due, closed, closed, None, problem=f"问题{i}", code=f"C{i}",
                     **kw)


def test_it_colours_units_and_names_the_red_ones() -> None:
    rows = [r(1, 1, due=date(2024, 3, 15), level=3),  # 5 working days late: red
            r(2, 2, due=date(2024, 3, 29), extension_refused=True),  # two refused extensions: a red unit
            r(3, 2, due=date(2024, 3, 27), extension_refused=True),
            r(4, 3, due=date(2024, 3, 26)),  # due in 2 working days: blue
            r(5, 4, due=date(2024, 3, 20)),  # 2 late: yellow
            r(6, 4, "closed", due=date(2024, 3, 1), closed=date(2024, 3, 8), level=5)]  # closed: no colour
    d = compute_digest(UNITS, rows, week_of=FRI, today=FRI, cal=CAL, ladder=LADDER)
    assert d.unit_colours == {"red": 2, "yellow": 1, "blue": 1}
    assert [(u.unit, u.red, u.yellow) for u in d.red_units] == [("县财政局", 1, 0), ("琴台街道", 0, 2)]
    assert compute_digest(UNITS, rows, week_of=FRI, today=FRI, cal=CAL).unit_colours == {}  # no ladder: no colours


def test_it_counts_overdue_against_the_original_deadline_too() -> None:
    rows = [r(1, due=date(2024, 3, 15), original_due=date(2024, 3, 11), extensions=1),  # late on both
            r(2, due=date(2024, 3, 29), original_due=date(2024, 3, 8), extensions=1),  # late on the original only
            r(3, due=date(2024, 3, 12))]  # never extended
    d = compute_digest(UNITS, rows, week_of=FRI, today=FRI, cal=CAL)
    assert (d.this.overdue, d.this.overdue_original, d.extended) == (2, 3, 2)
    assert [(i.code, i.days, i.original_due, i.days_original) for i in d.top_overdue] == [
        ("C3", 8, date(2024, 3, 12), 8), ("C1", 5, date(2024, 3, 11), 9)]


def test_it_counts_rechecks_due_confirmed_unanswered_and_reopened_in_the_week() -> None:
    rows = [r(1, state="closed", closed=date(2024, 3, 11), rechecked_on=date(2024, 3, 19)),  # due 3月18日, confirmed
            r(2, state="closed", closed=date(2024, 3, 12)),  # due 3月19日, not answered
            r(3, state="closed", closed=date(2024, 3, 4)),  # due 3月11日 (last week), still not answered
            r(4, state="closed", closed=date(2024, 3, 15)),  # due today
            r(5, state="closed", closed=date(2024, 3, 20)),  # due next week
            r(6, due=date(2024, 4, 3), reopened_on=(date(2024, 3, 20),)),  # 反弹 this week
            r(7, due=date(2024, 4, 3), reopened_on=(date(2024, 3, 12),)),  # 反弹 last week
            r(8, state="closed", closed=date(2024, 3, 1), rechecked_on=date(2024, 3, 15))]  # confirmed last week
    d = compute_digest(UNITS, rows, week_of=FRI, today=FRI, cal=CAL,
                       supervision=SupervisionSettings(recheck_working_days=5))
    rc = d.rechecks
    assert (rc.due, rc.confirmed, rc.pending) == (3, 1, 3)
    assert [(i.code, i.reopened_on, i.due_date) for i in rc.reopened] == [("C6", date(2024, 3, 20), date(2024, 4, 3))]


def test_it_mails_the_colours_deadlines_and_rechecks_escaped(rt) -> None:
    with rt.sessions() as s:
        f = seed_county(s)
        f["P-5"].problem = "<b>反弹</b>的问题"
        late = f["P-4"]  # closed 3月18日: its 回头看 falls due 30 working days later
        step.confirm(s, late, on=date(2024, 3, 21))
        s.commit()
    d = build(rt, week_of=AS_OF, today=AS_OF)
    assert (d.this.overdue, d.this.overdue_original, d.extended) == (0, 2, 2)
    assert d.unit_colours == {"red": 1, "yellow": 0, "blue": 0}
    assert (d.rechecks.due, d.rechecks.confirmed, [i.code for i in d.rechecks.reopened]) == (0, 1, ["P-5"])
    m = render_digest(d, rt.settings)
    assert "按原定整改时限计逾期未整改2个，与上周持平。" in m.text
    assert ("红色预警单位1个，黄色预警单位0个，蓝色预警单位0个。\n"
            "1. 县财政局（红色预警问题0个，黄色预警问题2个）") in m.text
    assert "本周到期回头看0个，本周确认整改到位1个，发现问题反弹1个；到期未回头看0个。" in m.text
    assert "&lt;b&gt;反弹&lt;/b&gt;的问题" in m.html and "<b>反弹</b>" not in m.html
    assert "| 逾期未整改（按原时限） | 2 | 2 | 0 |" in m.markdown
