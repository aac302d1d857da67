"""The access policy: pure cases for every role × action × ownership × state, and the SQL filter
that must agree with it."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from models import Finding
from rectify.core.lifecycle import State
from rectify.services.access import Decision, Do, Target, Viewer, decide, may_see_status, sees, visible
from tests.support import factory

UNIT, OTHER_UNIT, GROUP, OTHER_GROUP = 1, 2, 10, 20

VIEWERS = {
    "admin": Viewer(1, "admin"),
    "supervisor": Viewer(2, "supervisor", group_id=GROUP),
    "other_supervisor": Viewer(3, "supervisor", group_id=OTHER_GROUP),
    "groupless_supervisor": Viewer(4, "supervisor"),
    "contact": Viewer(5, "unit_contact", unit_id=UNIT),
    "other_contact": Viewer(6, "unit_contact", unit_id=OTHER_UNIT),
    "leader": Viewer(7, "unit_leader", unit_id=UNIT),
    "other_leader": Viewer(8, "unit_leader", unit_id=OTHER_UNIT),
    "unknown_role": Viewer(9, "visitor", unit_id=UNIT, group_id=GROUP),
}

# Who may do what to a finding of UNIT in GROUP, when its state allows the action at all.
ENTITLED = {
    Do.VIEW: {"admin", "supervisor", "contact", "leader"},
    Do.REPORT: {"contact"},
    Do.VERIFY: {"supervisor"},
    Do.REJECT: {"supervisor"},
    Do.CANCEL: {"admin"},
    Do.EXTEND: {"contact"},
    Do.DECIDE_EXTENSION: {"admin", "supervisor"},
    Do.REASSIGN: {"admin"},
    Do.DEADLINE: {"admin", "supervisor"},
    Do.SIGN_OFF: {"leader"},
    Do.RECHECK: {"admin"},  # and the supervisor who closed it: see below
    Do.ACKNOWLEDGE: {"contact", "leader"},  # 签收: the unit's own people
    Do.PROGRESS: {"contact"},  # 阶段性进展: the unit contact, like the report
}
# The states in which each action is possible (the lifecycle's table).
POSSIBLE = {
    Do.VIEW: set(State),
    Do.REPORT: {State.OPEN, State.REJECTED},
    Do.VERIFY: {State.REPORTED},
    Do.REJECT: {State.REPORTED},
    Do.CANCEL: {State.OPEN, State.REJECTED, State.REPORTED},
    Do.EXTEND: {State.OPEN, State.REJECTED},
    Do.DECIDE_EXTENSION: {State.OPEN, State.REJECTED, State.REPORTED},
    Do.REASSIGN: {State.OPEN, State.REJECTED, State.REPORTED},
    Do.DEADLINE: {State.OPEN, State.REJECTED, State.REPORTED},
    Do.SIGN_OFF: {State.REPORTED},
    Do.RECHECK: {State.CLOSED},
    Do.ACKNOWLEDGE: {State.OPEN, State.REJECTED, State.REPORTED},
    Do.PROGRESS: {State.OPEN, State.REJECTED},
}


@pytest.mark.parametrize("do", list(Do))
def test_it_decides_every_role_action_and_state(do: Do) -> None:
    for (name, viewer), state in itertools.product(VIEWERS.items(), State):
        got = decide(viewer, do, Target(UNIT, GROUP, state))
        if name not in ENTITLED[do]:
            want = Decision.FORBIDDEN
        else:
            want = Decision.OK if state in POSSIBLE[do] else Decision.NOT_NOW
        assert got is want, (name, do, state)


def test_it_keeps_people_out_of_other_units_and_groups() -> None:
    theirs = Target(OTHER_UNIT, OTHER_GROUP, State.REPORTED)
    assert decide(VIEWERS["contact"], Do.REPORT, Target(OTHER_UNIT, GROUP, State.OPEN)) is Decision.FORBIDDEN
    assert decide(VIEWERS["supervisor"], Do.VERIFY, theirs) is Decision.FORBIDDEN
    assert decide(VIEWERS["other_supervisor"], Do.VERIFY, theirs) is Decision.OK
    # A finding with no group is seen by no supervisor, even one without a group.
    assert not sees(VIEWERS["groupless_supervisor"], Target(UNIT, None, State.OPEN))
    assert not sees(VIEWERS["supervisor"], Target(UNIT, None, State.OPEN))


def test_it_leaves_the_re_check_to_whoever_closed_the_finding() -> None:
    closed_by_supervisor = Target(UNIT, GROUP, State.CLOSED, closed_by_id=VIEWERS["supervisor"].person_id)
    assert decide(VIEWERS["supervisor"], Do.RECHECK, closed_by_supervisor) is Decision.OK
    assert decide(VIEWERS["admin"], Do.RECHECK, closed_by_supervisor) is Decision.OK
    colleague = Viewer(10, "supervisor", group_id=GROUP)
    assert decide(colleague, Do.RECHECK, closed_by_supervisor) is Decision.FORBIDDEN
    reopened = Target(UNIT, GROUP, State.OPEN, closed_by_id=VIEWERS["supervisor"].person_id)
    assert decide(VIEWERS["supervisor"], Do.RECHECK, reopened) is Decision.NOT_NOW


def test_it_shows_the_status_page_to_admins_and_supervisors_only() -> None:
    assert {n for n, v in VIEWERS.items() if may_see_status(v)} == {
        "admin", "supervisor", "other_supervisor", "groupless_supervisor"}


def test_it_filters_lists_exactly_as_it_decides_one_finding(session) -> None:
    r = factory.round_(session)
    g1, g2 = factory.group(session, "第一督导组"), factory.group(session, "第二督导组")
    u1, u2 = factory.unit(session, "县司法局"), factory.unit(session, "县教育局")
    for u, g in itertools.product((u1, u2), (g1, g2, None)):
        factory.finding(session, unit=u, round=r, group=g)
    session.flush()
    viewers = [Viewer(1, "admin"), Viewer(2, "supervisor", group_id=g1.id), Viewer(3, "supervisor"),
               Viewer(4, "unit_contact", unit_id=u2.id), Viewer(5, "unit_leader", unit_id=u1.id),
               Viewer(6, "unit_contact"), Viewer(7, "visitor", unit_id=u1.id)]
    findings = list(session.scalars(select(Finding)))
    for v in viewers:
        listed = set(session.scalars(select(Finding.id).where(visible(v))))
        assert listed == {f.id for f in findings if sees(v, Target.of(f))}, v
