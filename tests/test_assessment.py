"""考评: the figures and the formula (rectify.core.assessment), by hand and as properties."""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rectify.core.assessment import Components, Facts, Weights, components, rank, score
from rectify.core.workcal import package_calendar

CAL = package_calendar()
START, END = date(2026, 6, 1), date(2026, 6, 30)


def figs(*facts: Facts, **kw) -> Components:
    return components(facts, start=START, end=END, cal=CAL, **kw).get(1, Components())


def test_it_counts_deadlines_in_the_period_and_early_finishes() -> None:
    c = figs(
        Facts(1, 1, "closed", date(2026, 5, 1), due=date(2026, 6, 10), done_on=date(2026, 6, 9),
              closed_on=date(2026, 6, 11)),  # due in period, done on time
        Facts(2, 1, "open", date(2026, 5, 1), due=date(2026, 6, 12)),  # due in period, missed: overdue at end
        Facts(3, 1, "closed", date(2026, 5, 1), due=date(2026, 8, 1), done_on=date(2026, 6, 20),
              closed_on=date(2026, 6, 20)),  # early finish: counts now
        Facts(4, 1, "open", date(2026, 5, 1), due=date(2026, 8, 1)),  # not due yet: not counted
        Facts(5, 1, "cancelled", date(2026, 5, 1), due=date(2026, 6, 12)),  # never counts
    )
    assert (c.on_time, c.due, c.overdue) == (2, 3, 1)
    # 2026-06-12 (Fri) + 5 working days = 06-22 (督办) and + 10 = 06-29 (通报), both in June
    assert c.escalations == 2


def test_it_takes_penalties_against_the_original_deadline() -> None:
    extended = Facts(1, 1, "closed", date(2026, 5, 1), due=date(2026, 6, 25), original_due=date(2026, 6, 10),
                     done_on=date(2026, 6, 24), closed_on=date(2026, 6, 24))
    c = figs(extended)
    assert (c.on_time, c.due) == (1, 1)  # on time against the extended deadline
    assert (c.on_time_original, c.due_original) == (0, 1)  # late against the one first set
    assert c.escalations == 1  # 06-10 + 5 working days = 06-17, not done by then (06-29 is after it was done)


def test_it_scores_by_the_documented_formula_and_ranks_ties_together() -> None:
    w = Weights()
    c = Components(on_time_original=3, due_original=4, overdue=1, escalations=2, rebounds=1,
                   ack_on_time=1, ack_due=2)
    assert score(c, w) == round(60 * 0.75 + 20 * 0.5 + 20 * 1.0 - 2 - 2 - 3, 1)  # 68.0
    ranked = rank({1: c, 2: Components(), 3: Components()}, {1: "甲", 2: "乙", 3: "丙"}, w, order=[3, 2, 1])
    assert [(r.rank, r.unit, r.score) for r in ranked] == [(1, "丙", 100.0), (1, "乙", 100.0), (3, "甲", 68.0)]


def test_it_refuses_a_period_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        components([], start=END, end=START, cal=CAL)


# --- properties -------------------------------------------------------------------------------------------

days = st.integers(min_value=0, max_value=120).map(lambda n: date(2026, 4, 15) + timedelta(days=n))
weights = st.builds(Weights, *[st.floats(min_value=0, max_value=100, allow_nan=False)] * 7)


@st.composite
def a_finding(draw, fid: int) -> Facts:
    inspected = draw(days)
    due = draw(st.one_of(st.none(), days.filter(lambda d: d >= inspected)))
    original = draw(st.one_of(st.none(), st.just(due))) if due else None
    if due and draw(st.booleans()):
        original = due - timedelta(days=draw(st.integers(1, 20)))  # extended
    state = draw(st.sampled_from(["open", "rejected", "reported", "closed", "cancelled"]))
    done = draw(days.filter(lambda d: d >= inspected)) if state in ("reported", "closed") else None
    return Facts(fid, 1, state, inspected, due=due, original_due=original,
                 done_on=done if state == "closed" else None, closed_on=done if state == "closed" else None,
                 reported_on=done, reopened_on=tuple(draw(st.lists(days, max_size=2))))


findings = st.integers(0, 6).flatmap(lambda n: st.tuples(*[a_finding(i) for i in range(1, n + 1)]))
rates = st.tuples(st.integers(0, 5), st.integers(0, 5)).map(lambda t: (min(t), max(t)))


def total(facts, w: Weights, ack=(0, 0), progress=(0, 0)) -> float:
    c = components(facts, start=START, end=END, cal=CAL, ack={1: ack}, progress={1: progress})[1]
    return score(c, w)


@settings(max_examples=300, deadline=None)
@given(findings, weights, rates, rates, st.data())
def test_it_never_lowers_a_score_when_an_item_is_closed_on_time(facts, w, ack, progress, data) -> None:
    inspected = data.draw(days)
    due = data.draw(st.one_of(st.none(), days.filter(lambda d: d >= inspected)))
    original = data.draw(st.one_of(st.none(), st.integers(0, 20).map(lambda n: (due or inspected) - timedelta(n))))
    item = Facts(99, 1, data.draw(st.sampled_from(["open", "rejected"])), inspected, due=due, original_due=original)
    latest = min(END, due) if due else END
    if latest < inspected:
        return
    done_on = inspected + timedelta(days=data.draw(st.integers(0, (latest - inspected).days)))
    closed = replace(item, state="closed", done_on=done_on, closed_on=done_on, reported_on=done_on)
    assert total([*facts, closed], w, ack, progress) >= total([*facts, item], w, ack, progress)


@settings(max_examples=300, deadline=None)
@given(findings, weights, rates, rates, days, st.integers(0, 20), st.data())
def test_it_never_raises_a_score_for_an_overdue_item(facts, w, ack, progress, original, extra, data) -> None:
    if original >= END:
        original = END - timedelta(days=1)
    due = min(original + timedelta(days=extra), END - timedelta(days=1))  # overdue against both deadlines
    late = Facts(99, 1, data.draw(st.sampled_from(["open", "rejected"])), min(original, START), due=due,
                 original_due=original)
    assert total([*facts, late], w, ack, progress) <= total(list(facts), w, ack, progress)
    # and an item that was closed on time, had it stayed open past its deadline, scores no better
    on_time = replace(late, state="closed", done_on=late.inspected_on, closed_on=late.inspected_on,
                      reported_on=late.inspected_on)
    assert total([*facts, late], w, ack, progress) <= total([*facts, on_time], w, ack, progress)


@settings(max_examples=300, deadline=None)
@given(findings, rates, rates, days, st.integers(1, 30), st.one_of(st.none(), days))
def test_it_gives_nothing_for_an_extension_under_the_default_weights(facts, ack, progress, due, extra, done) -> None:
    inspected = min(due, START)
    closed = done is not None and done >= inspected
    item = Facts(99, 1, "closed" if closed else "open", inspected, due=due,
                 done_on=done if closed else None, closed_on=done if closed else None,
                 reported_on=done if closed else None)
    extended = replace(item, due=due + timedelta(days=extra), original_due=due)
    w = Weights()
    assert total([*facts, extended], w, ack, progress) <= total([*facts, item], w, ack, progress)
