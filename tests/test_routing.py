"""Routing today's ladder actions to letters: one per address, nobody dropped silently. Pure."""

from rectify.config import default_ladder
from rectify.core.ladder import PlannedAction, steps_from
from rectify.core.routing import Contact, Directory, Target, route, sections, without

LADDER = {s.key: s for s in steps_from(default_ladder())}
FINANCE, EDUCATION, TOWN = 1, 2, 3
GROUP_ONE = 10


def act(fid: int, key: str | None, days: int | None = None) -> PlannedAction:
    if key is None:
        return PlannedAction(fid, "review", 0, None, None)
    step = LADDER[key]
    return PlannedAction(fid, step.kind, list(LADDER).index(key) + 1, step, step.offset if days is None else days)


def directory(**changes) -> Directory:
    base = dict(
        units={FINANCE: "县财政局", EDUCATION: "县教育局", TOWN: "城关镇"},
        contacts={FINANCE: [Contact("张三", "zhang@fin.example", 1)], EDUCATION: [Contact("李四", "li@edu.example", 2)],
                  TOWN: [Contact("王五", "wang@town.example", 3)]},
        leaders={FINANCE: [Contact("赵局长", "zhao@fin.example", 4)], EDUCATION: [Contact("钱局长", None, 5)]},
        groups={GROUP_ONE: "第一督导组"},
        members={GROUP_ONE: [Contact("孙督导", "sun@group.example", 6), Contact("周督导", "zhou@group.example", 7)]},
        command_office=[Contact("", "office@county.example", None)],
        unit_rank={FINANCE: 0, EDUCATION: 1, TOWN: 2},
    )
    base.update(changes)
    return Directory(**base)


TARGETS = {1: Target(FINANCE, GROUP_ONE), 2: Target(FINANCE, GROUP_ONE), 3: Target(EDUCATION, GROUP_ONE),
           4: Target(TOWN, None), 5: Target(FINANCE, GROUP_ONE)}


def test_it_sends_each_step_to_its_audiences_only() -> None:
    r = route([act(1, "remind_before")], TARGETS, directory())
    assert list(r.letters) == ["zhang@fin.example"]
    r = route([act(1, "urge")], TARGETS, directory())
    assert sorted(r.letters) == ["zhang@fin.example", "zhao@fin.example"]
    r = route([act(1, "supervise")], TARGETS, directory())
    assert sorted(r.letters) == ["sun@group.example", "zhang@fin.example", "zhao@fin.example", "zhou@group.example"]
    r = route([act(1, "notify")], TARGETS, directory())
    assert "office@county.example" in r.letters and len(r.letters) == 5


def test_it_writes_one_letter_per_address_with_all_its_items_most_urgent_first() -> None:
    actions = [act(1, "remind_before"), act(2, "remind_due"), act(5, "urge", days=2), act(3, "supervise")]
    r = route(actions, TARGETS, directory())
    contact = r.letters["zhang@fin.example"]
    assert [i.action.finding_id for i in contact.items] == [5, 2, 1]
    assert contact.top_kind == "urge" and not contact.overseer
    supervisor = r.letters["sun@group.example"]
    assert [i.action.finding_id for i in supervisor.items] == [3] and supervisor.overseer
    assert supervisor.group_ids == {GROUP_ONE}


def test_it_merges_roles_of_one_address_into_one_letter() -> None:
    # The finance leader also sits on the command office list: one letter, both roles, the person's links.
    d = directory(command_office=[Contact("", "ZHAO@fin.example", None)])
    r = route([act(1, "notify"), act(3, "notify")], TARGETS, d)
    letter = r.letters["zhao@fin.example"]
    assert letter.roles == {"unit_leader", "command_office"} and letter.person_id == 4
    assert sorted(i.action.finding_id for i in letter.items) == [1, 3]


def test_it_gives_a_command_office_address_without_account_no_person() -> None:
    r = route([act(1, "notify")], TARGETS, directory())
    assert r.letters["office@county.example"].person_id is None


def test_it_reports_unreachable_audiences_and_holds_actions_nobody_receives() -> None:
    d = directory(contacts={FINANCE: [Contact("张三", "zhang@fin.example", 1)],
                            EDUCATION: [Contact("李四", None, 2)]})
    r = route([act(3, "urge"), act(4, "supervise"), act(1, "remind_due")], TARGETS, d)
    # Education: contact without an address, leader without an address → held, both reported.
    # Town: no contact listed at all, no leader, and the finding has no group → held.
    assert [a.finding_id for a in r.held] == [3, 4]
    assert [a.finding_id for a in r.delivered] == [1]
    reasons = sorted((u.finding_id, u.audience, u.reason) for u in r.unreachable)
    assert reasons == [(3, "unit_contact", "no_email"), (3, "unit_leader", "no_email"),
                       (4, "group", "no_group"), (4, "unit_contact", "no_person"), (4, "unit_leader", "no_person")]


def test_it_delivers_when_one_audience_is_reachable_and_still_reports_the_other() -> None:
    r = route([act(3, "urge")], TARGETS, directory())
    assert list(r.letters) == ["li@edu.example"] and [a.finding_id for a in r.delivered] == [3]
    assert [(u.audience, u.reason) for u in r.unreachable] == [("unit_leader", "no_email")]


def test_it_sends_long_term_reviews_to_the_unit_contact() -> None:
    r = route([act(2, None)], TARGETS, directory())
    assert list(r.letters) == ["zhang@fin.example"]
    assert r.letters["zhang@fin.example"].top_kind == "review"


def test_it_defers_actions_that_would_reach_someone_already_mailed_today() -> None:
    actions = [act(1, "urge"), act(4, "remind_due")]
    r = route(actions, TARGETS, directory())
    kept, deferred = without(r.delivered, r, {"ZHAO@fin.example"})
    assert [a.finding_id for a in kept] == [4] and [a.finding_id for a in deferred] == [1]


def test_it_lays_out_unit_letters_by_level_and_overseer_letters_by_unit() -> None:
    actions = [act(1, "remind_before"), act(2, "notify"), act(3, "supervise"), act(5, "supervise", days=6)]
    r = route(actions, TARGETS, directory())
    d = directory()
    assert [s.key for s in sections(r.letters["zhang@fin.example"], d.unit_rank)] == ["notify", "supervise", "remind"]
    by_unit = sections(r.letters["sun@group.example"], d.unit_rank)
    assert [(s.unit_id, [i.action.finding_id for i in s.items]) for s in by_unit] == [(FINANCE, [2, 5]),
                                                                                       (EDUCATION, [3])]



def test_it_tells_the_new_unit_of_a_handover_through_its_contact_only() -> None:
    handover = PlannedAction(3, "handover", 3, None, 2)
    r = route([handover, act(3, "supervise")], TARGETS, directory())
    assert r.letters["li@edu.example"].top_kind == "supervise"
    assert [i.action.kind for i in r.letters["li@edu.example"].items] == ["supervise", "handover"]
    assert r.recipients_of[(3, "handover")] == ["li@edu.example"]
    assert r.recipients_of[(3, "supervise")] == ["li@edu.example", "sun@group.example", "zhou@group.example"]
