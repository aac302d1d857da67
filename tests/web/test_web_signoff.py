"""Two-level closure over HTTP: in a two-level round the unit head signs the report off (one at a time or
from the list), then the finding's supervisor may close it; the page shows both signatures."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Event, Finding, Person, Round
from tests.web.helpers import NOW, client, csrf_of, person_of, post_form
from tests.web.test_web_safety import XSS, XSS_ESCAPED


@pytest.fixture
def two_level(rt, world):
    with rt.sessions() as s, s.begin():
        s.scalars(select(Round)).one().two_level_closure = True
    return world


def _signed(rt, fid: int) -> tuple[str, int | None, int]:
    with rt.sessions() as s:
        f = s.get(Finding, fid)
        return f.state, f.head_signed_by_id, f.version


def _kinds(rt, fid: int) -> list[str]:
    with rt.sessions() as s:
        return list(s.scalars(select(Event.kind).where(Event.finding_id == fid).order_by(Event.id)))


def test_it_explains_the_missing_sign_off_on_the_verify_form(app, rt, two_level) -> None:
    w = two_level
    sup = client(app, w.sup_1)
    page = sup.get(f"/findings/{w.reported_a}").text
    assert "责任单位主要负责人尚未审核" in page and "尚未审核" in page
    assert 'value="close" class="primary" disabled' in page  # 销号 waits; 退回 stays possible
    listing = sup.get("/findings").text
    assert f'value="{w.reported_a}:' not in listing and "待负责人审核" in listing  # no bulk 销号 either
    r = post_form(sup, w.reported_a, "verify", decision="close", note="核实无误")
    assert r.status_code == 409 and "须经责任单位主要负责人审核后方可销号" in r.text
    assert _signed(rt, w.reported_a) == ("reported", None, 1) and _kinds(rt, w.reported_a) == []


def test_it_closes_after_the_heads_sign_off_showing_both_signatures(app, rt, two_level) -> None:
    w = two_level
    leader = client(app, w.leader_a)
    waiting = leader.get("/findings", params={"signoff": "1"}).text
    assert f'href="/findings/{w.reported_a}"' in waiting and f'href="/findings/{w.open_a}"' not in waiting
    r = post_form(leader, w.reported_a, "signoff", signoff_note="情况属实，同意报督导组核实")
    assert r.status_code == 303 and "已审核，等待督导组核实销号" in leader.get(r.headers["location"]).text
    assert _signed(rt, w.reported_a) == ("reported", w.leader_a, 2)
    again = post_form(leader, w.reported_a, "signoff")
    assert again.status_code == 409 and "已经单位主要负责人审核" in again.text

    sup = client(app, w.sup_1)
    assert "责任单位主要负责人尚未审核" not in sup.get(f"/findings/{w.reported_a}").text
    assert post_form(sup, w.reported_a, "verify", decision="close", note="核实无误").status_code == 303
    page = sup.get(f"/findings/{w.reported_a}").text
    with rt.sessions() as s:
        head, closer = s.get(Person, w.leader_a).name, s.get(Person, w.sup_1).name
    when = NOW.strftime("%Y-%m-%d %H:%M")
    signatures = page.split("审核签字")[1].split("</section>")[0]
    assert f"单位主要负责人审核</dt>\n    <dd>{head} <span class=\"muted\">{when}" in signatures
    assert f"督导组核实销号</dt>\n    <dd>{closer} <span class=\"muted\">{when}" in signatures
    assert _kinds(rt, w.reported_a) == ["signoff", "verify"]
    assert "情况属实，同意报督导组核实" in page


def test_it_refuses_a_sign_off_by_a_leader_of_another_unit(app, rt, two_level) -> None:
    w = two_level
    with rt.sessions() as s:
        leader_b = person_of(s, w.unit_b, "unit_leader")
    for who in (leader_b, w.contact_a, w.sup_1, w.admin):
        c = client(app, who)
        r = c.post(f"/findings/{w.reported_a}/signoff", data={"csrf_token": csrf_of(c), "version": "1"})
        assert r.status_code == 403, who
    r = client(app, leader_b).post("/findings/bulk-signoff", data={
        "csrf_token": csrf_of(client(app, leader_b)), "pick": f"{w.reported_a}:1"})
    assert r.status_code == 403
    assert _signed(rt, w.reported_a) == ("reported", None, 1) and _kinds(rt, w.reported_a) == []


def test_it_signs_several_reports_off_from_the_list_all_or_nothing(app, rt, two_level) -> None:
    w = two_level
    leader = client(app, w.leader_a)
    listing = leader.get("/findings").text
    assert f'value="{w.reported_a}:1"' in listing and f'value="{w.reported_a2}:1"' in listing
    assert f'value="{w.open_a}:' not in listing and 'action="/findings/bulk-signoff"' in listing
    csrf = csrf_of(leader)
    with rt.sessions() as s, s.begin():  # the supervisor sends one back meanwhile
        s.get(Finding, w.reported_a2).state = "rejected"
    picks = [f"{w.reported_a}:1", f"{w.reported_a2}:1"]
    r = leader.post("/findings/bulk-signoff", data={"csrf_token": csrf, "pick": picks, "note": "同意"})
    assert r.status_code == 409 and "批量审核未执行" in r.text
    assert _signed(rt, w.reported_a)[1] is None
    r = leader.post("/findings/bulk-signoff", data={"csrf_token": csrf, "pick": [f"{w.reported_a}:1"], "note": XSS})
    assert r.status_code == 303 and "已审核 1 项" in leader.get(r.headers["location"]).text
    assert _signed(rt, w.reported_a) == ("reported", w.leader_a, 2)
    page = client(app, w.sup_1).get(f"/findings/{w.reported_a}").text
    assert XSS_ESCAPED in page and "<script>alert" not in page  # the bulk note, escaped in the trail


def test_it_asks_no_sign_off_in_a_one_level_round(app, rt, world) -> None:
    leader = client(app, world.leader_a)
    page = leader.get(f"/findings/{world.reported_a}").text
    assert "/signoff" not in page and "审核签字" not in page and "bulk-signoff" not in leader.get("/findings").text
    r = post_form(leader, world.reported_a, "signoff")
    assert r.status_code == 409 and "未实行两级销号" in r.text
    assert _signed(rt, world.reported_a) == ("reported", None, 1)
