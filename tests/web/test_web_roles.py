"""Every role × every action over HTTP: only the finding's own unit contact reports, only its own
group's supervisor verifies or rejects, only an admin cancels; everyone else gets 403 and nothing changes."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Event, Finding
from tests.web.helpers import client, csrf_of, form_tokens

PEOPLE = ("admin", "sup_1", "sup_2", "contact_a", "leader_a", "contact_b")


def _snapshot(rt, finding_id: int) -> tuple[str, int, int]:
    with rt.sessions() as s:
        f = s.get(Finding, finding_id)
        events = s.scalar(select(func.count()).select_from(Event).where(Event.finding_id == finding_id))
        return f.state, f.version, events


def _version(rt, finding_id: int) -> int:
    return _snapshot(rt, finding_id)[1]


def _try(app, rt, world, who: str, path: str, data: dict, finding_id: int) -> int:
    c = client(app, getattr(world, who))
    payload = {"csrf_token": csrf_of(c), "version": str(_version(rt, finding_id)), **data}
    return c.post(path, data=payload).status_code


def _check_only(app, rt, world, allowed: str, finding_attr: str, action: str, data: dict, to_state: str) -> None:
    fid = getattr(world, finding_attr)
    before = _snapshot(rt, fid)
    for who in PEOPLE:
        if who == allowed:
            continue
        assert _try(app, rt, world, who, f"/findings/{fid}/{action}", data, fid) == 403, who
        assert _snapshot(rt, fid) == before, who  # refused: no state, version or audit change
    assert _try(app, rt, world, allowed, f"/findings/{fid}/{action}", data, fid) == 303
    state, version, events = _snapshot(rt, fid)
    assert (state, version) == (to_state, before[1] + 1)
    assert events == before[2] + 1


def test_it_lets_each_role_see_only_its_own_findings(app, world) -> None:
    expected = {
        "admin": {"open_a", "reported_a", "reported_a2", "open_b", "reported_b", "closed_a"},
        "sup_1": {"open_a", "reported_a", "reported_a2", "closed_a"},
        "sup_2": {"open_b", "reported_b"},
        "contact_a": {"open_a", "reported_a", "reported_a2", "closed_a"},
        "leader_a": {"open_a", "reported_a", "reported_a2", "closed_a"},
        "contact_b": {"open_b", "reported_b"},
    }
    every = expected["admin"]
    for who, mine in expected.items():
        c = client(app, getattr(world, who))
        listing = c.get("/findings").text
        for name in every:
            fid = getattr(world, name)
            status = c.get(f"/findings/{fid}").status_code
            assert status == (200 if name in mine else 403), (who, name)
            assert (f'href="/findings/{fid}"' in listing) == (name in mine), (who, name)


def test_it_lets_only_the_units_contact_report(app, rt, world) -> None:
    _check_only(app, rt, world, "contact_a", "open_a", "report",
                {"measures": "已在门户网站更新公示信息", "progress": "已完成"}, "reported")


def test_it_lets_only_the_groups_supervisor_verify(app, rt, world) -> None:
    _check_only(app, rt, world, "sup_1", "reported_a", "verify", {"decision": "close", "note": "核实无误"}, "closed")


def test_it_lets_only_the_groups_supervisor_reject(app, rt, world) -> None:
    _check_only(app, rt, world, "sup_1", "reported_a", "verify", {"decision": "reject", "note": "佐证材料不全"},
                "rejected")


def test_it_lets_only_an_admin_cancel(app, rt, world) -> None:
    _check_only(app, rt, world, "admin", "open_b", "cancel", {"reason": "重复录入"}, "cancelled")


def test_it_keeps_unit_leaders_read_only(app, rt, world) -> None:
    c = client(app, world.leader_a)
    page = c.get(f"/findings/{world.open_a}").text
    assert "/report" not in page and "/verify" not in page and "/cancel" not in page


def test_it_shows_the_status_page_to_admins_and_supervisors_only(app, world) -> None:
    for who in PEOPLE:
        status = client(app, getattr(world, who)).get("/status").status_code
        assert status == (200 if who in ("admin", "sup_1", "sup_2") else 403), who


def test_it_counts_per_unit_progress_within_the_viewers_scope(app, rt, world) -> None:
    admin = client(app, world.admin).get("/status").text
    assert "县财政局" in admin and "城关镇" in admin
    assert "问题总数 6 项，已销号 1 项，完成率 16.7%，逾期未整改 1 项" in admin
    group2 = client(app, world.sup_2).get("/status").text
    assert "城关镇" in group2 and "县财政局" not in group2
    assert "问题总数 2 项，已销号 0 项，完成率 0.0%，逾期未整改 0 项" in group2


def test_it_answers_an_action_the_state_no_longer_allows_with_a_conflict(app, rt, world) -> None:
    c = client(app, world.sup_1)
    csrf, version = form_tokens(c, world.open_a)  # open: nothing to verify yet
    r = c.post(f"/findings/{world.open_a}/verify", data={"csrf_token": csrf, "version": version, "decision": "close"})
    assert r.status_code == 409
    assert "当前状态：未整改" in r.text
    assert _snapshot(rt, world.open_a)[0] == "open"
