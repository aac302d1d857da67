"""Sign-in confirmation (issue 13.7) and revocation (13.6): links and sessions end on sign-out,
`people revoke` and deactivation; API tokens are rows that end one by one and live a bounded time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import ApiToken, Person
from rectify.services.people import PeopleError, add_person, deactivate
from rectify.services.revocation import issue_api_token, revoke_api_token, revoke_person
from tests.web.helpers import NOW, client, csrf_of, login_token, open_link
from web.auth import COOKIE


def _email(rt, pid: int) -> str:
    with rt.sessions() as s:
        return s.get(Person, pid).email


def test_it_asks_before_signing_in_and_a_get_alone_signs_nobody_in(app, world) -> None:
    c = client(app)
    token = login_token(world.contact_a)
    page = c.get(f"/auth/{token}", params={"next": f"/findings/{world.open_a}"})
    assert page.status_code == 200 and "确认登录" in page.text and "县财政局联系人" in page.text
    assert c.get(f"/findings/{world.open_a}").status_code == 303  # a scanner that opened the link: not signed in
    assert c.post(f"/auth/{token}", data={"csrf_token": "forged", "next": "/findings"}).status_code == 403
    cross_site = client(app)  # an attacker's page posting the form: the browser sends no session cookie
    assert cross_site.post(f"/auth/{token}", data={"csrf_token": csrf_of(c, f"/auth/{token}")}).status_code == 403
    assert COOKIE not in cross_site.cookies
    r = c.post(f"/auth/{token}", data={"csrf_token": csrf_of(c, f"/auth/{token}"), "next": f"/findings/{world.open_a}"})
    assert r.status_code == 303 and r.headers["location"] == f"/findings/{world.open_a}"
    assert c.get(f"/findings/{world.open_a}").status_code == 200


def test_it_ends_every_session_and_earlier_link_on_sign_out(app, world) -> None:
    c = client(app, world.sup_1)
    copied = client(app)
    copied.cookies.set(COOKIE, c.cookies[COOKIE])
    old_link = login_token(world.sup_1)
    app.state.clock = lambda: NOW + timedelta(minutes=5)
    assert c.post("/signout", data={"csrf_token": csrf_of(c)}).status_code == 303
    assert copied.get("/findings").status_code == 303  # the copied cookie no longer writes (or reads)
    assert open_link(client(app), old_link).status_code == 403
    fresh = login_token(world.sup_1, now=NOW + timedelta(minutes=6))
    assert open_link(client(app), fresh).status_code == 303  # a new link signs in again


def test_it_revokes_one_person_and_a_deactivated_person_stays_revoked(app, rt, world) -> None:
    sup, contact = client(app, world.sup_1), client(app, world.contact_a)
    link = login_token(world.contact_a)
    later = NOW + timedelta(minutes=1)
    with rt.sessions() as s, s.begin():
        revoke_person(s, _email(rt, world.sup_1), later)
        deactivate(s, _email(rt, world.contact_a), later)
    assert sup.get("/findings").status_code == 303 and contact.get("/findings").status_code == 303
    with rt.sessions() as s, s.begin():  # the contact comes back: old links and sessions stay dead
        p = s.get(Person, world.contact_a)
        add_person(s, name=p.name, email=p.email, role="admin")
    app.state.clock = lambda: later
    assert contact.get("/findings").status_code == 303 and open_link(client(app), link).status_code == 403


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_it_revokes_api_tokens_one_by_one_and_bounds_their_life(app, rt, world) -> None:
    email = _email(rt, world.sup_1)
    with rt.sessions() as s, s.begin():
        a = issue_api_token(s, rt.settings.secret, email, NOW, days=30, max_days=365, note="script A")
        b = issue_api_token(s, rt.settings.secret, email, NOW, days=30, max_days=365)
        with pytest.raises(PeopleError, match="between 1 and 365"):
            issue_api_token(s, rt.settings.secret, email, NOW, days=3660, max_days=365)
        a_id = a.row.id
    c = client(app)
    assert c.get("/api/findings", headers=_bearer(a.token)).status_code == 200
    with rt.sessions() as s, s.begin():
        revoke_api_token(s, a_id, NOW)
    assert c.get("/api/findings", headers=_bearer(a.token)).status_code == 401
    assert c.get("/api/findings", headers=_bearer(b.token)).status_code == 200
    unrecorded = login_token(world.sup_1, purpose="api")  # signed with the key but not in the table
    assert c.get("/api/findings", headers=_bearer(unrecorded)).status_code == 401
    with rt.sessions() as s, s.begin():
        revoke_person(s, email, NOW)
        assert {t.revoked_at is not None for t in s.query(ApiToken)} == {True}
    assert c.get("/api/findings", headers=_bearer(b.token)).status_code == 401
