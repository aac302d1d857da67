"""CSRF on every form, optimistic locking against stale forms, escaping of user text, security headers."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Event, Finding
from rectify.services.findings import SYSTEM, act
from tests.web.helpers import NOW, client, csrf_of, form_tokens

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
XSS_ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


def _state(rt, fid: int) -> tuple[str, int]:
    with rt.sessions() as s:
        f = s.get(Finding, fid)
        return f.state, f.version


def _events(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(Event))


def test_it_refuses_every_form_post_without_the_sessions_csrf_token(app, rt, world) -> None:
    posts = [
        (world.contact_a, f"/findings/{world.open_a}/report", {"measures": "m", "progress": "p"}, world.open_a),
        (world.sup_1, f"/findings/{world.reported_a}/verify", {"decision": "close"}, world.reported_a),
        (world.sup_1, f"/findings/{world.reported_a}/verify", {"decision": "reject", "note": "n"}, world.reported_a),
        (world.admin, f"/findings/{world.open_b}/cancel", {"reason": "r"}, world.open_b),
        (world.sup_1, "/findings/bulk-verify", {"pick": f"{world.reported_a}:1"}, world.reported_a),
    ]
    other = client(app, world.sup_2)
    foreign = csrf_of(other)  # a genuine token, but of another session
    for person, path, data, fid in posts:
        c = client(app, person)
        before, events = _state(rt, fid), _events(rt)
        for token in (None, "", "forged", foreign):
            payload = {**data, "version": str(before[1])}
            if token is not None:
                payload["csrf_token"] = token
            r = c.post(path, data=payload)
            assert r.status_code == 403, (path, token)
            assert "页面已失效" in r.text
        assert _state(rt, fid) == before and _events(rt) == events


def test_it_refuses_a_stale_form_with_a_conflict_and_the_current_state(app, rt, world) -> None:
    first, second = client(app, world.sup_1), client(app, world.sup_1b)
    csrf1, v1 = form_tokens(first, world.reported_a)
    csrf2, v2 = form_tokens(second, world.reported_a)  # both opened the same version
    assert v1 == v2
    ok = first.post(f"/findings/{world.reported_a}/verify",
                    data={"csrf_token": csrf1, "version": v1, "decision": "close", "note": "核实无误"})
    assert ok.status_code == 303
    late = second.post(f"/findings/{world.reported_a}/verify",
                       data={"csrf_token": csrf2, "version": v2, "decision": "reject", "note": "材料不全"})
    assert late.status_code == 409
    assert "您的提交未生效" in late.text and "当前状态：已销号" in late.text
    with rt.sessions() as s:
        f = s.get(Finding, world.reported_a)
        assert f.state == "closed" and f.closed_by_id == world.sup_1
        assert [e.kind for e in f.events] == ["verify"]


def test_it_refuses_a_form_older_than_a_background_change(app, rt, world) -> None:
    c = client(app, world.contact_a)
    csrf, version = form_tokens(c, world.open_a)
    with rt.sessions() as s, s.begin():  # the daily run escalates it meanwhile
        s.get(Finding, world.open_a).level = 2
    r = c.post(f"/findings/{world.open_a}/report",
               data={"csrf_token": csrf, "version": version, "measures": "整改措施", "progress": "完成情况"})
    assert r.status_code == 409
    assert _state(rt, world.open_a)[0] == "open"


def test_it_escapes_user_text_in_problem_and_notes(app, rt, world) -> None:
    with rt.sessions() as s, s.begin():
        f = s.get(Finding, world.reported_a)
        f.problem = XSS
        f.opinion = XSS
        f.code = "X-1<b>"
    sup = client(app, world.sup_1)
    csrf, version = form_tokens(sup, world.reported_a)
    r = sup.post(f"/findings/{world.reported_a}/verify",
                 data={"csrf_token": csrf, "version": version, "decision": "reject", "note": XSS})
    assert r.status_code == 303
    contact = client(app, world.contact_a)
    csrf, version = form_tokens(contact, world.reported_a)
    r = contact.post(f"/findings/{world.reported_a}/report",
                     data={"csrf_token": csrf, "version": version, "measures": XSS, "progress": XSS})
    assert r.status_code == 303
    for c in (sup, contact):
        for page in (c.get(f"/findings/{world.reported_a}").text, c.get("/findings", params={"q": "alert"}).text,
                     c.get("/findings", params={"q": XSS}).text):
            assert "<script>alert" not in page and "<img src=x" not in page and "<b>" not in page
            assert XSS_ESCAPED in page
    detail = sup.get(f"/findings/{world.reported_a}").text
    assert detail.count(XSS_ESCAPED) >= 5  # problem, opinion, measures, progress, the rejection note


def test_it_keeps_what_was_typed_when_a_required_field_is_missing(app, rt, world) -> None:
    c = client(app, world.contact_a)
    csrf, version = form_tokens(c, world.open_a)
    r = c.post(f"/findings/{world.open_a}/report",
               data={"csrf_token": csrf, "version": version, "measures": "已更新公示<信息>", "progress": "  "})
    assert r.status_code == 400
    assert "请填写完成情况" in r.text and "已更新公示&lt;信息&gt;" in r.text
    sup = client(app, world.sup_1)
    csrf, version = form_tokens(sup, world.reported_a)
    r = sup.post(f"/findings/{world.reported_a}/verify",
                 data={"csrf_token": csrf, "version": version, "decision": "reject", "note": ""})
    assert r.status_code == 400 and "须填写理由" in r.text
    assert _state(rt, world.open_a)[0] == "open" and _state(rt, world.reported_a)[0] == "reported"


def test_it_sends_security_headers_on_every_response(app, world) -> None:
    c = client(app, world.contact_a)
    responses = [c.get("/findings"), c.get(f"/findings/{world.open_a}"), c.get("/status"), c.get("/nowhere"),
                 client(app).get("/signin"), client(app).get("/findings"), c.get("/static/app.css"),
                 c.get("/api/findings"), client(app).get("/docs")]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    assert all(r.headers["cache-control"] == "no-store" for r in responses[:-3] + responses[-2:])
    assert responses[-3].headers["cache-control"].startswith("public")  # the stylesheet may be cached


def test_it_has_no_inline_script_or_style_and_no_external_asset(app, world) -> None:
    c = client(app, world.sup_1)
    for path in ("/findings", f"/findings/{world.reported_a}", "/status", "/docs", "/signin"):
        page = c.get(path).text
        assert "<script>" not in page and "<style" not in page and " style=" not in page, path
        assert "http://" not in page and "https://" not in page, path


def test_it_bulk_closes_reported_findings_all_or_nothing(app, rt, world) -> None:
    sup = client(app, world.sup_1)
    page = sup.get("/findings").text
    assert f'value="{world.reported_a}:1"' in page and f'value="{world.reported_a2}:1"' in page
    assert f'value="{world.open_a}:' not in page  # only reported items can be picked
    csrf = csrf_of(sup)
    with rt.sessions() as s, s.begin():  # a colleague rejects one of them meanwhile
        act(s, s.get(Finding, world.reported_a2), "reject", SYSTEM, NOW, note="退回")
    picks = [f"{world.reported_a}:1", f"{world.reported_a2}:1"]
    r = sup.post("/findings/bulk-verify", data={"csrf_token": csrf, "pick": picks, "note": "批量核实"})
    assert r.status_code == 409 and "全部未执行" in r.text and "已退回" in r.text
    assert _state(rt, world.reported_a) == ("reported", 1)  # nothing closed
    r = sup.post("/findings/bulk-verify", data={"csrf_token": csrf, "pick": [f"{world.reported_a}:1"]})
    assert r.status_code == 303 and r.headers["location"] == "/findings?done=bulk&n=1"
    assert "已批量销号 1 项" in sup.get(r.headers["location"]).text
    assert _state(rt, world.reported_a)[0] == "closed"


def test_it_refuses_bulk_closing_another_groups_finding(app, rt, world) -> None:
    sup = client(app, world.sup_1)
    r = sup.post("/findings/bulk-verify", data={"csrf_token": csrf_of(sup),
                                                "pick": [f"{world.reported_a}:1", f"{world.reported_b}:1"]})
    assert r.status_code == 403
    assert _state(rt, world.reported_a)[0] == "reported" and _state(rt, world.reported_b)[0] == "reported"


def test_it_records_who_acted_and_from_where(app, rt, world) -> None:
    c = client(app, world.sup_1)
    csrf, version = form_tokens(c, world.reported_a)
    c.post(f"/findings/{world.reported_a}/verify", data={"csrf_token": csrf, "version": version, "decision": "close"})
    with rt.sessions() as s:
        ev = s.scalars(select(Event).where(Event.finding_id == world.reported_a)).one()
    assert (ev.kind, ev.actor_id, ev.ip, ev.from_state, ev.to_state) == (
        "verify", world.sup_1, "testclient", "reported", "closed")
    assert ev.at == NOW
    page = c.get(f"/findings/{world.reported_a}").text
    assert "2024-01-25 09:00" in page and "核实销号" in page
