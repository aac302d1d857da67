"""Reassignment (admins) and deadline edits (admins, the finding's supervisors) over HTTP: never without a
reason, never silently: the history says who moved what, from where to where."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from models import Event, Finding
from tests.web.helpers import client, csrf_of, person_of, post_form


def _finding(rt, fid: int) -> tuple[int, date | None, date | None, int, bool]:
    with rt.sessions() as s:
        f = s.get(Finding, fid)
        return f.unit_id, f.due_date, f.original_due_date, f.version, f.handover_pending


def _events(rt, fid: int) -> list[Event]:
    with rt.sessions() as s:
        return list(s.scalars(select(Event).where(Event.finding_id == fid).order_by(Event.id)))


def _post_as(app, person_id: int, fid: int, action: str, data: dict) -> int:
    """A post by someone who may not even open the page: their own session's token, the current version."""
    c = client(app, person_id)
    return c.post(f"/findings/{fid}/{action}", data={"csrf_token": csrf_of(c), "version": "1", **data}).status_code


def test_it_refuses_a_deadline_edit_without_a_reason(app, rt, world) -> None:
    sup = client(app, world.sup_1)
    before = _finding(rt, world.open_a)
    r = post_form(sup, world.open_a, "deadline", new_due="2024-02-02", deadline_reason="  ")
    assert r.status_code == 400 and "调整整改时限须填写理由" in r.text
    assert 'value="2024-02-02"' in r.text  # what was typed is kept
    r = post_form(sup, world.open_a, "deadline", new_due="2024-01-22", deadline_reason="核对")
    assert r.status_code == 400 and "与现时限相同" in r.text
    assert _finding(rt, world.open_a) == before and _events(rt, world.open_a) == []

    r = post_form(sup, world.open_a, "deadline", new_due="2024-02-02",
                  deadline_reason="督导通知中的时限录入有误，按原件更正")
    assert r.status_code == 303
    assert _finding(rt, world.open_a)[1:3] == (date(2024, 2, 2), date(2024, 1, 22))
    [ev] = _events(rt, world.open_a)
    assert (ev.kind, ev.actor_id, ev.ip, ev.data) == (
        "deadline_change", world.sup_1, "testclient", {"due": "2024-01-22", "new_due": "2024-02-02"})
    page = sup.get(f"/findings/{world.open_a}").text
    assert "整改时限由2024年1月22日调整为2024年2月2日" in page and "督导通知中的时限录入有误" in page
    assert "原定时限</dt><dd>2024年1月22日" in page


def test_it_lets_only_admins_and_the_findings_supervisors_edit_a_deadline(app, rt, world) -> None:
    before = _finding(rt, world.open_a)
    data = {"new_due": "2024-02-02", "deadline_reason": "更正"}
    for who in (world.sup_2, world.contact_a, world.leader_a, world.contact_b):
        assert _post_as(app, who, world.open_a, "deadline", data) == 403, who
    assert _finding(rt, world.open_a) == before and _events(rt, world.open_a) == []
    assert _post_as(app, world.admin, world.open_a, "deadline", data) == 303


def test_it_refuses_reassignment_by_anyone_but_an_admin(app, rt, world) -> None:
    before = _finding(rt, world.open_a)
    data = {"unit": str(world.unit_b), "move_reason": "职责调整"}
    for who in (world.sup_1, world.sup_2, world.contact_a, world.leader_a, world.contact_b):
        assert _post_as(app, who, world.open_a, "reassign", data) == 403, who
    assert _finding(rt, world.open_a) == before and _events(rt, world.open_a) == []
    page = client(app, world.sup_1).get(f"/findings/{world.open_a}").text
    assert "/reassign" not in page and "/deadline" in page  # supervisors edit deadlines, not owners


def test_it_moves_a_reassigned_finding_from_the_old_units_list_to_the_new_ones(app, rt, world) -> None:
    old, new = client(app, world.contact_a), client(app, world.contact_b)
    href = f'href="/findings/{world.open_a}"'
    assert href in old.get("/findings").text and href not in new.get("/findings").text
    admin = client(app, world.admin)
    page = admin.get(f"/findings/{world.open_a}").text
    assert f'<option value="{world.unit_b}">城关镇</option>' in page
    assert f'<option value="{world.unit_a}">' not in page  # not to the unit it already belongs to
    r = post_form(admin, world.open_a, "reassign", unit=str(world.unit_b), move_reason="")
    assert r.status_code == 400 and "调整责任单位须填写理由" in r.text
    r = post_form(admin, world.open_a, "reassign", unit=str(world.unit_a), move_reason="职责调整")
    assert r.status_code == 400 and "请选择另一个责任单位" in r.text
    assert _events(rt, world.open_a) == []

    r = post_form(admin, world.open_a, "reassign", unit=str(world.unit_b),
                  move_reason="按县编委职责调整文件，由城关镇承办")
    assert r.status_code == 303
    unit_id, *_, handover = _finding(rt, world.open_a)
    assert unit_id == world.unit_b and handover  # the daily run tells the new unit
    assert href not in old.get("/findings").text and old.get(f"/findings/{world.open_a}").status_code == 403
    assert href in new.get("/findings").text
    [ev] = _events(rt, world.open_a)
    assert (ev.kind, ev.actor_id, ev.ip, ev.data["from_unit"], ev.data["to_unit"]) == (
        "reassign", world.admin, "testclient", "县财政局", "城关镇")
    page = new.get(f"/findings/{world.open_a}").text
    assert "责任单位由县财政局调整为城关镇" in page and "按县编委职责调整文件" in page
    with rt.sessions() as s:
        leader_b = person_of(s, world.unit_b, "unit_leader")
    assert client(app, leader_b).get(f"/findings/{world.open_a}").status_code == 200
