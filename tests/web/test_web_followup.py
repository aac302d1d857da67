"""签收 and 进展反馈 over HTTP (form, mail link, JSON API) on SQLite and PostgreSQL: the 待签收 badge and the
签收 button, 一键签收 from the list, the progress form with evidence, CSRF and version checks, other units
refused, text escaped."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models import Event, Evidence, Finding, ProgressReport
from rectify.core.followup import FollowupRules
from rectify.links import login_links
from rectify.services.followup import mark_arrival
from tests.web.helpers import NOW, SECRET, api_token, client, csrf_of, form_tokens, open_link, post_form
from tests.web.test_web_safety import XSS, XSS_ESCAPED

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def arrived(rt, world):
    """open_a, reported_a (unit A) and open_b (unit B) arrived on Wednesday Jan 24: 签收 due Thursday Jan 25.
    open_a gets a far deadline, so it owes a progress report, due today."""
    with rt.sessions() as s, s.begin():
        for fid in (world.open_a, world.reported_a, world.open_b):
            f = s.get(Finding, fid)
            if fid == world.open_a:
                f.due_date = date(2024, 6, 28)
            mark_arrival(f, date(2024, 1, 24), rt.calendar, FollowupRules())
        s.get(Finding, world.open_a).progress_due_on = date(2024, 1, 25)
    return world


def _kinds(rt, fid: int) -> list[str]:
    with rt.sessions() as s:
        return list(s.scalars(select(Event.kind).where(Event.finding_id == fid).order_by(Event.id)))


def test_it_opens_the_mail_link_on_the_page_with_the_button_and_acknowledges(app, rt, arrived) -> None:
    w = arrived
    link = login_links("http://testserver", SECRET, w.contact_a, now=NOW, max_age=timedelta(days=14))
    url = urlsplit(link(f"/findings/{w.open_a}"))
    c = TestClient(app, follow_redirects=False)
    token, next_path = url.path.rsplit("/", 1)[1], parse_qs(url.query)["next"][0]
    landed = open_link(c, token, next_path)  # the confirmation page, then its button
    assert landed.status_code == 303 and landed.headers["location"] == f"/findings/{w.open_a}"
    page = c.get(f"/findings/{w.open_a}").text
    assert 'id="ack-badge"' in page and "待签收" in page and f'action="/findings/{w.open_a}/acknowledge"' in page
    assert "请于1月25日前签收" in page or "请于2024年1月25日前签收" in page
    r = post_form(c, w.open_a, "acknowledge")
    assert r.status_code == 303 and "已签收" in c.get(r.headers["location"]).text
    with rt.sessions() as s:
        f = s.get(Finding, w.open_a)
        assert f.acknowledged_by_id == w.contact_a and f.acknowledged_at == NOW
    page = c.get(f"/findings/{w.open_a}").text
    assert 'id="ack-badge"' not in page and "按期签收" in page  # in the trail, with the time
    again = post_form(c, w.open_a, "acknowledge")
    assert again.status_code == 409 and "无需签收或已签收" in again.text
    assert _kinds(rt, w.open_a) == ["acknowledge"]


def test_it_refuses_forged_csrf_stale_versions_and_other_units(app, rt, arrived) -> None:
    w = arrived
    c = client(app, w.contact_a)
    r = c.post(f"/findings/{w.open_a}/acknowledge", data={"csrf_token": "forged", "version": "1"})
    assert r.status_code == 403
    stale = c.post(f"/findings/{w.open_a}/acknowledge", data={"csrf_token": csrf_of(c), "version": "0"})
    assert stale.status_code == 409
    other = client(app, w.contact_b)
    r = other.post(f"/findings/{w.open_a}/acknowledge", data={"csrf_token": csrf_of(other), "version": "1"})
    assert r.status_code == 403
    sup = client(app, w.sup_1)
    assert f'/findings/{w.open_a}/acknowledge' not in sup.get(f"/findings/{w.open_a}").text
    assert _kinds(rt, w.open_a) == []


def test_it_acknowledges_all_of_the_units_new_findings_from_the_list(app, rt, arrived) -> None:
    w = arrived
    leader = client(app, w.leader_a)
    listing = leader.get("/findings", params={"ack": "1"}).text
    assert 'id="ack-all"' in listing and listing.count('class="badge flag ack"') == 2
    assert f'href="/findings/{w.open_b}"' not in listing
    r = leader.post("/findings/acknowledge-all", data={"csrf_token": csrf_of(leader)})
    assert r.status_code == 303 and "已签收 2 项" in leader.get(r.headers["location"]).text
    assert _kinds(rt, w.open_a) == ["acknowledge"] and _kinds(rt, w.reported_a) == ["acknowledge"]
    assert _kinds(rt, w.open_b) == []
    assert 'id="ack-all"' not in leader.get("/findings").text
    forged = leader.post("/findings/acknowledge-all", data={"csrf_token": "x"})
    assert forged.status_code == 403


def test_it_takes_a_progress_report_with_evidence_and_escapes_it(app, rt, arrived) -> None:
    w = arrived
    c = client(app, w.contact_a)
    page = c.get(f"/findings/{w.open_a}").text
    assert f'action="/findings/{w.open_a}/progress"' in page
    empty = post_form(c, w.open_a, "progress", progress_text="  ")
    assert empty.status_code == 400 and "请填写阶段性进展" in empty.text
    csrf, version = form_tokens(c, w.open_a)
    r = c.post(f"/findings/{w.open_a}/progress",
               data={"csrf_token": csrf, "version": str(version), "progress_text": "已完成方案制定" + XSS},
               files=[("files", ("方案.pdf", PDF, "application/pdf"))])
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"]).text
    assert "阶段性进展已报送" in page and XSS_ESCAPED in page and XSS not in page
    assert "按期报送" in page and "方案.pdf" in page
    with rt.sessions() as s:
        report = s.scalars(select(ProgressReport)).one()
        ev = s.scalars(select(Evidence)).one()
        assert report.evidence == [ev.id] and report.on_time and report.person_id == w.contact_a
        assert s.get(Finding, w.open_a).progress_due_on == date(2024, 2, 7)
    assert _kinds(rt, w.open_a) == ["evidence", "progress_report"]


def test_it_offers_the_progress_form_only_to_the_units_contact(app, rt, arrived) -> None:
    w = arrived
    assert "/progress\"" not in client(app, w.leader_a).get(f"/findings/{w.open_a}").text
    other = client(app, w.contact_b)
    r = other.post(f"/findings/{w.open_a}/progress",
                   data={"csrf_token": csrf_of(other), "version": "1", "progress_text": "x"})
    assert r.status_code == 403
    with rt.sessions() as s:
        assert s.scalars(select(ProgressReport)).all() == []


def _api(app, person_id: int) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    c.headers["Authorization"] = f"Bearer {api_token(app, person_id)}"
    return c


def test_it_acknowledges_and_reports_progress_through_the_api(app, rt, arrived) -> None:
    w = arrived
    api = _api(app, w.contact_a)
    one = api.get(f"/api/findings/{w.open_a}").json()
    assert one["ack_due_on"] == "2024-01-25" and one["acknowledged_at"] is None
    assert one["progress_due_on"] == "2024-01-25"
    r = api.post(f"/api/findings/{w.open_a}/acknowledge", json={"version": one["version"]})
    assert r.status_code == 200 and r.json()["acknowledged_at"] is not None
    stale = api.post(f"/api/findings/{w.open_a}/progress", json={"version": one["version"], "text": "x"})
    assert stale.status_code == 409 and stale.json()["error"] == "conflict"
    r = api.post(f"/api/findings/{w.open_a}/progress", json={"version": r.json()["version"], "text": "推进中"})
    assert r.status_code == 200 and r.json()["progress_due_on"] == "2024-02-07"
    assert api.post("/api/acknowledge-all").json() == {"acknowledged": 1}  # reported_a was still waiting
    assert _api(app, w.sup_1).post("/api/acknowledge-all").status_code == 403
    assert _api(app, w.contact_b).post(f"/api/findings/{w.open_a}/acknowledge",
                                       json={"version": 1}).status_code == 403
    assert _kinds(rt, w.open_a) == ["acknowledge", "progress_report"]
