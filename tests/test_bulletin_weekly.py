"""The weekly digest's figures, rebuilt from the findings' dates for any week."""

from datetime import date

import pytest

from rectify.bulletin.stats import UnitRow
from rectify.bulletin.weekly import DigestRow, compute_digest, figures, week_start
from rectify.runtime import load_calendar

CAL = load_calendar(None)
UNITS = [UnitRow(1, "县财政局"), UnitRow(2, "琴台街道", "township")]
FRI = date(2024, 1, 19)
MON = date(2024, 1, 15)


def r(i: int, unit: int = 1, state: str = "open", *, found: date = date(2024, 1, 10), due: date | None = None,
      reported: date | None = None, closed: date | None = None, cancelled: date | None = None) -> DigestRow:
    return DigestRow(i, unit, state, found, due, reported, closed, cancelled, problem=f"问题{i}", code=f"C{i}")


def test_it_starts_weeks_on_monday() -> None:
    assert [week_start(date(2024, 1, d)) for d in (15, 19, 21, 22)] == [MON, MON, MON, date(2024, 1, 22)]


def test_it_counts_what_happened_in_the_week_and_the_state_at_its_end() -> None:
    rows = [
        r(1, found=date(2024, 1, 16)),  # new this week
        r(2, state="closed", closed=date(2024, 1, 17), reported=date(2024, 1, 12)),  # awaiting last week, closed now
        r(3, state="reported", reported=date(2024, 1, 18), due=date(2024, 1, 12)),  # overdue last week, awaiting now
        r(4, due=date(2024, 1, 16)),  # overdue since Wednesday
        r(5, state="cancelled", cancelled=date(2024, 1, 16)),  # counted last week only
        r(6, state="closed", closed=date(2024, 1, 20)),  # closed after today: still open
    ]
    this, last = figures(rows, MON, FRI), figures(rows, date(2024, 1, 8), FRI)
    assert (this.as_of, last.as_of) == (FRI, date(2024, 1, 14))
    assert (this.new, this.closed, this.awaiting, this.overdue, this.open, this.closed_total) == (1, 1, 1, 1, 4, 1)
    assert (last.new, last.closed, last.awaiting, last.overdue, last.open, last.closed_total) == (5, 0, 1, 1, 5, 0)


def test_it_compares_with_last_week_and_keeps_a_trend() -> None:
    rows = [r(1, due=date(2024, 1, 16)), r(2, unit=2, state="closed", closed=date(2024, 1, 18)),
            r(3, due=date(2024, 1, 3)), r(4, unit=2)]
    d = compute_digest(UNITS, rows, week_of=FRI, today=FRI, cal=CAL, weeks=4)
    assert (d.week_start, d.week_end, d.as_of) == (MON, date(2024, 1, 21), FRI)
    assert [w.week_start.day for w in d.trend] == [25, 1, 8, 15]
    assert (d.change("closed"), d.change("overdue")) == (1, 1)
    assert [(u.unit, u.found, u.closed) for u in d.units] == [("县财政局", 2, 0), ("琴台街道", 2, 1)]
    # Most overdue first, with working days late (1月3日 → 1月19日: 12 working days).
    assert [(i.code, i.days) for i in d.top_overdue] == [("C3", 12), ("C1", 3)]


def test_it_refuses_a_week_that_has_not_started() -> None:
    with pytest.raises(ValueError, match="has not started"):
        compute_digest(UNITS, [], week_of=date(2024, 1, 22), today=FRI, cal=CAL)
