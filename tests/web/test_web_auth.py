"""Signing in: mail links (genuine, forged, expired, another person's), sessions on the app's clock,
no open redirect, and the sign-in-by-e-mail page (same answer for everyone, mail via the outbox)."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from sqlalchemy import func, select

from models import OutboxMessage, Person
from tests.web.helpers import NOW, client, csrf_of, login_token, open_link
from web.auth import COOKIE
from web.signin import SIGNIN_PER_DAY


def test_it_signs_in_from_a_mail_link_and_lands_on_the_finding(app, world) -> None:
    c = client(app)
    r = open_link(c, login_token(world.contact_a), f"/findings/{world.open_a}")
    assert r.status_code == 303
    assert r.headers["location"] == f"/findings/{world.open_a}"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and "行政执法公示信息未及时更新" in page.text


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "findings",
    "/\x0d\x0aSet-Cookie:x=1",
])
def test_it_never_redirects_off_site(app, world, target: str) -> None:
    r = open_link(client(app), login_token(world.sup_1), target)
    assert r.status_code == 303
    assert r.headers["location"] == "/findings"


def test_it_refuses_forged_expired_and_foreign_tokens(app, world) -> None:
    good = login_token(world.sup_1)
    cases = {
        "forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "other key": __import__("rectify.links", fromlist=["sign"]).sign(
            "another-secret", world.sup_1, now=NOW, max_age=timedelta(days=1)),
        "expired": login_token(world.sup_1, now=NOW - timedelta(days=15)),
        "api token used as a mail link": login_token(world.sup_1, purpose="api"),
    }
    for name, token in cases.items():
        c = client(app)
        r = c.get(f"/auth/{token}", params={"next": f"/findings/{world.reported_a}"})
        assert r.status_code == 403, name
        assert COOKIE not in r.headers.get("set-cookie", ""), name
        assert "重新获取登录链接" in r.text
        assert c.get(f"/findings/{world.reported_a}").status_code == 303, name  # still signed out
    assert "已过期" in client(app).get(f"/auth/{cases['expired']}").text


def test_it_refuses_a_link_for_someone_who_left(app, rt, world) -> None:
    c = client(app, world.contact_a)
    with rt.sessions() as s, s.begin():
        s.get(Person, world.contact_a).active = False
    assert c.get("/findings").status_code == 303  # the running session ends too
    assert client(app).get(f"/auth/{login_token(world.contact_a)}").status_code == 403


def test_it_ends_sessions_after_their_max_age_by_the_apps_clock(app, world) -> None:
    c = client(app, world.sup_1)
    assert c.get("/findings").status_code == 200
    app.state.clock = lambda: NOW + timedelta(hours=11, minutes=59)
    assert c.get("/findings").status_code == 200
    app.state.clock = lambda: NOW + timedelta(hours=12, minutes=1)
    r = c.get("/findings?state=reported")
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Ffindings%3Fstate%3Dreported"


def test_it_refuses_a_tampered_session_cookie(app, world) -> None:
    c = client(app, world.contact_a)
    value = c.cookies[COOKIE]
    c.cookies.set(COOKIE, value.replace(value[5], "A" if value[5] != "A" else "B", 1))
    assert c.get("/findings").status_code == 303


def test_it_signs_out_only_with_the_csrf_token(app, world) -> None:
    c = client(app, world.sup_1)
    assert c.post("/signout", data={"csrf_token": "wrong"}).status_code == 403
    assert c.get("/findings").status_code == 200
    r = c.post("/signout", data={"csrf_token": csrf_of(c)})
    assert r.status_code == 303
    assert c.get("/findings").status_code == 303


def _signin(c, email: str) -> str:
    page = c.get("/signin", params={"next": "/findings/7"})
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = c.post("/signin", data={"csrf_token": token, "email": email, "next": "/findings/7"})
    assert r.status_code == 200
    return r.text


def test_it_mails_a_sign_in_link_through_the_outbox(app, rt, world, smtp_settings, smtp_sink) -> None:
    rt.settings = smtp_settings  # deliver to the real SMTP sink
    with rt.sessions() as s:
        email = s.get(Person, world.sup_1).email
    known = _signin(client(app), email.upper())
    unknown = _signin(client(app), "nobody@county.example")
    assert known == unknown  # the page never says who is registered
    assert [r.rcpt for r in smtp_sink.received] == [[email]]
    msg = message_from_bytes(smtp_sink.received[0].data, policy=default_policy)
    assert msg["Subject"] == "整改督办系统登录链接"
    body = msg.get_body(("plain",)).get_content()
    link = next(line for line in body.splitlines() if "/auth/" in line).strip()
    assert link.startswith("http://127.0.0.1:8400/auth/") and link.endswith("?next=/findings/7")
    c = client(app)
    path, _, query = link.removeprefix("http://127.0.0.1:8400").partition("?next=")
    r = open_link(c, path.removeprefix("/auth/"), query)
    assert r.status_code == 303 and r.headers["location"] == "/findings/7"
    with rt.sessions() as s:
        assert s.scalar(select(OutboxMessage.state)) == "sent"


def test_it_limits_sign_in_mails_per_address_and_day(app, rt, world) -> None:
    with rt.sessions() as s:
        email = s.get(Person, world.contact_b).email
    c = client(app)
    for _ in range(SIGNIN_PER_DAY + 3):
        _signin(c, email)
    app.state.clock = lambda: NOW + timedelta(days=1)
    _signin(c, email)
    with rt.sessions() as s:
        per_day = dict(s.execute(select(OutboxMessage.day, func.count()).group_by(OutboxMessage.day)).all())
    assert sorted(per_day.values()) == [1, SIGNIN_PER_DAY]
    assert len(list((rt.settings.outbox_path).glob("*.eml"))) == SIGNIN_PER_DAY + 1  # no SMTP host: .eml files


def test_it_refuses_a_sign_in_request_without_csrf(app, rt, world) -> None:
    c = client(app)
    c.get("/signin")
    r = c.post("/signin", data={"email": "admin@county.example"})
    assert r.status_code == 403
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
