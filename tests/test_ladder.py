"""The escalation ladder and the daily planner."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rectify.config import default_ladder
from rectify.core.ladder import FindingView, is_overdue, plan, reached_level, steps_from
from rectify.core.workcal import package_calendar

CAL = package_calendar()
LADDER = steps_from(default_ladder())
DUE = date(2024, 1, 31)  # a Wednesday


def planned(f: FindingView, today: date):
    return [(a.kind, a.level, a.days) for a in plan([f], today, CAL, LADDER)]


def test_it_reminds_three_working_days_before_and_on_the_due_day() -> None:
    assert planned(FindingView(1, "open", DUE, 0), date(2024, 1, 26)) == [("remind", 1, -3)]
    assert planned(FindingView(1, "open", DUE, 1), date(2024, 1, 29)) == []
    assert planned(FindingView(1, "open", DUE, 1), DUE) == [("remind", 2, 0)]


def test_it_escalates_at_one_five_and_ten_working_days_late() -> None:
    assert planned(FindingView(1, "open", DUE, 2), date(2024, 2, 1)) == [("urge", 3, 1)]
    # Sunday Feb 4 2024 is a 调休 working day: +5 is Feb 1, 2, 4, 5, 6 → Feb 6.
    assert planned(FindingView(1, "open", DUE, 3), date(2024, 2, 5)) == []
    assert planned(FindingView(1, "open", DUE, 3), date(2024, 2, 6)) == [("supervise", 4, 5)]
    # +10 crosses Spring Festival 2024: Feb 7, 8, 9, 18 (调休), 19 → Feb 19.
    assert planned(FindingView(1, "open", DUE, 4), date(2024, 2, 18)) == []
    assert planned(FindingView(1, "open", DUE, 4), date(2024, 2, 19)) == [("notify", 5, 10)]


def test_it_gives_a_late_import_only_its_highest_level() -> None:
    assert planned(FindingView(1, "open", DUE, 0), date(2024, 2, 8)) == [("supervise", 4, 7)]


def test_it_sends_nothing_for_reported_closed_or_cancelled() -> None:
    for state in ("reported", "closed", "cancelled"):
        assert planned(FindingView(1, state, DUE, 0), date(2024, 2, 8)) == []


def test_it_escalates_a_rejected_finding_like_an_open_one() -> None:
    assert planned(FindingView(1, "rejected", DUE, 0), date(2024, 2, 1)) == [("urge", 3, 1)]


def test_it_sends_nothing_on_a_day_off_and_catches_up_next_working_day() -> None:
    f = FindingView(1, "open", date(2024, 2, 9), 1)  # due the Friday before Spring Festival
    assert planned(f, date(2024, 2, 12)) == []  # holiday
    assert planned(f, date(2024, 2, 18)) == [("urge", 3, 1)]  # 调休 Sunday: a working day


def test_it_reviews_long_term_items_on_their_cadence() -> None:
    f = FindingView(7, "open", None, 0, review_from=date(2024, 1, 2))
    assert plan([f], date(2024, 1, 29), CAL, LADDER, review_every=20) == []
    actions = plan([f], date(2024, 1, 30), CAL, LADDER, review_every=20)
    assert [(a.finding_id, a.kind) for a in actions] == [(7, "review")]


def test_it_derives_overdue_without_storing_it() -> None:
    assert is_overdue("open", DUE, date(2024, 2, 1))
    assert not is_overdue("open", DUE, DUE)
    assert not is_overdue("reported", DUE, date(2024, 2, 1))
    assert not is_overdue("open", None, date(2030, 1, 1))


def test_it_maps_lateness_to_levels() -> None:
    assert [reached_level(d, LADDER) for d in (-4, -3, -1, 0, 1, 4, 5, 9, 10, 50)] == [0, 1, 1, 2, 3, 3, 4, 4, 5, 5]


finding_st = st.builds(
    FindingView,
    id=st.integers(1, 10_000),
    state=st.sampled_from(["open", "rejected", "reported", "closed", "cancelled"]),
    due_date=st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2024, 12, 31))),
    level=st.integers(0, 5),
    review_from=st.one_of(st.none(), st.dates(date(2023, 6, 1), date(2024, 6, 1))),
)


@given(findings=st.lists(finding_st, max_size=20, unique_by=lambda f: f.id),
       start=st.dates(date(2024, 1, 1), date(2024, 12, 1)))
def test_it_never_fires_a_level_twice_and_never_acts_off_days_or_on_closed_items(findings, start) -> None:
    levels = {f.id: f.level for f in findings}
    states = {f.id: f.state for f in findings}
    fired: set[tuple[int, int]] = set()
    for i in range(30):  # thirty consecutive days, applying each day's escalations as the flow does
        today = start + timedelta(days=i)
        views = [FindingView(f.id, states[f.id], f.due_date, levels[f.id], f.review_from) for f in findings]
        actions = plan(views, today, CAL, LADDER)
        if not CAL.is_working_day(today):
            assert actions == []
        for a in actions:
            assert states[a.finding_id] in ("open", "rejected")
            if a.kind == "review":
                continue
            assert a.level > levels[a.finding_id]
            assert (a.finding_id, a.level) not in fired
            fired.add((a.finding_id, a.level))
            levels[a.finding_id] = a.level
