"""The JSON API: bearer tokens (purpose "api" only), the cookie session with X-CSRF-Token, the same
policy and locking as the form, and documentation that works without a CDN."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from models import Event, Finding, Round
from tests.web.helpers import NOW, api_token, client, csrf_of, login_token


def _api(app, person_id: int | None, token: str | None = None) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    if person_id is not None or token is not None:
        c.headers["Authorization"] = f"Bearer {token or api_token(app, person_id)}"
    return c


def test_it_lists_and_reads_only_what_the_caller_may_see(app, world) -> None:
    c = _api(app, world.contact_b)
    body = c.get("/api/findings").json()
    assert {i["id"] for i in body["items"]} == {world.open_b, world.reported_b}
    assert body["total"] == 2
    one = c.get(f"/api/findings/{world.open_b}").json()
    assert one["unit"] == "城关镇" and one["version"] == 1 and one["working_days"] == -4 and not one["overdue"]
    assert c.get(f"/api/findings/{world.open_a}").json() == {"error": "forbidden"}
    assert c.get("/api/findings/99999").status_code == 404
    late = _api(app, world.admin).get(f"/api/findings/{world.open_a}").json()
    assert late["overdue"] and late["working_days"] == 3


def test_it_refuses_missing_forged_expired_and_login_tokens(app, world) -> None:
    bad = {
        "none": None,
        "login link token": login_token(world.sup_1),
        "expired": login_token(world.sup_1, now=NOW - timedelta(days=30), purpose="api"),
        "forged": login_token(world.sup_1, purpose="api")[:-2] + "zz",
    }
    for name, token in bad.items():
        c = TestClient(app, follow_redirects=False)
        if token:
            c.headers["Authorization"] = f"Bearer {token}"
        r = c.post(f"/api/findings/{world.reported_a}/verify", json={"version": 1})
        assert r.status_code == 401, name
        assert r.json() == {"error": "unauthorized"}
    c = TestClient(app, follow_redirects=False)
    c.headers["Authorization"] = "Basic c3VwOnB3"
    assert c.get("/api/findings").status_code == 401


def test_it_reports_verifies_and_rejects_with_the_same_rules_as_the_form(app, rt, world) -> None:
    contact, sup, other = _api(app, world.contact_a), _api(app, world.sup_1), _api(app, world.sup_2)
    r = contact.post(f"/api/findings/{world.open_a}/report", json={"version": 1, "measures": "已更新", "progress": " "})
    assert r.status_code == 422 and r.json() == {"error": "invalid", "fields": ["progress"]}
    done = {"version": 1, "measures": "已更新", "progress": "完成"}
    r = contact.post(f"/api/findings/{world.open_a}/report", json=done)
    assert r.status_code == 200 and r.json()["state"] == "reported" and r.json()["version"] == 2
    assert other.post(f"/api/findings/{world.open_a}/verify", json={"version": 2}).status_code == 403
    assert contact.post(f"/api/findings/{world.open_a}/verify", json={"version": 2}).status_code == 403
    r = sup.post(f"/api/findings/{world.open_a}/reject", json={"version": 2, "reason": ""})
    assert r.status_code == 422
    r = sup.post(f"/api/findings/{world.open_a}/reject", json={"version": 2, "reason": "材料不全"})
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    stale = sup.post(f"/api/findings/{world.open_a}/verify", json={"version": 2})
    assert stale.status_code == 409
    assert stale.json()["error"] == "conflict" and stale.json()["finding"]["state"] == "rejected"
    with rt.sessions() as s:
        events = s.scalars(select(Event).where(Event.finding_id == world.open_a).order_by(Event.id)).all()
    assert [(e.kind, e.actor_id) for e in events] == [("report", world.contact_a), ("reject", world.sup_1)]


def test_it_needs_the_csrf_header_when_called_with_the_session_cookie(app, rt, world) -> None:
    c = client(app, world.sup_1)
    assert c.get("/api/findings").status_code == 200
    r = c.post(f"/api/findings/{world.reported_a}/verify", json={"version": 1})
    assert r.status_code == 403 and r.json() == {"error": "csrf"}
    r = c.post(f"/api/findings/{world.reported_a}/verify", json={"version": 1},
               headers={"X-CSRF-Token": csrf_of(c)})
    assert r.status_code == 200 and r.json()["state"] == "closed"


def test_it_refuses_closing_before_the_heads_sign_off_in_a_two_level_round(app, rt, world) -> None:
    with rt.sessions() as s, s.begin():
        s.scalars(select(Round)).one().two_level_closure = True
    r = _api(app, world.sup_1).post(f"/api/findings/{world.reported_a}/verify", json={"version": 1})
    assert r.status_code == 409 and r.json() == {"error": "needs_signoff"}
    c = client(app, world.sup_1)
    page = c.get(f"/findings/{world.reported_a}").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = c.post(f"/findings/{world.reported_a}/verify", data={"csrf_token": csrf, "version": "1", "decision": "close"})
    assert r.status_code == 409 and "须经责任单位主要负责人审核" in r.text
    with rt.sessions() as s:
        assert s.get(Finding, world.reported_a).state == "reported"


def test_it_documents_the_api_without_a_cdn(app, world) -> None:
    c = client(app, world.contact_a)
    spec = c.get("/openapi.json").json()
    assert {"/api/findings", "/api/findings/{finding_id}", "/api/findings/{finding_id}/report",
            "/api/findings/{finding_id}/verify", "/api/findings/{finding_id}/reject"} <= set(spec["paths"])
    assert not any(p.startswith(("/findings", "/auth", "/signin")) for p in spec["paths"])  # pages stay out
    docs = c.get("/docs").text
    assert "POST /api/findings/{finding_id}/verify" in docs and "Bearer" in docs and "rectify api-token" in docs
    assert "cdn" not in docs.lower() and "<script" not in docs.replace('<script src="/static/app.js"', "")
    assert c.get("/redoc").status_code == 404
