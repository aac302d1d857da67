"""The supervision-practice forms keep the form's guarantees: the session's CSRF token on every post, a
stale version refused with the finding as it is now, and every free-text field escaped wherever shown."""

from __future__ import annotations

import pendulum
import pytest
from sqlalchemy import func, select

from models import Event, ExtensionRequest, Finding, Round
from tests.web.helpers import client, csrf_of, form_tokens, post_form
from tests.web.test_web_safety import XSS, XSS_ESCAPED

LONG_AGO = pendulum.datetime(2023, 11, 1, 10, tz="Asia/Shanghai")  # its 回头看 is due


@pytest.fixture
def ready(app, rt, world):
    """A two-level round, a pending extension request on open_b, closed_a due for its 回头看."""
    with rt.sessions() as s, s.begin():
        s.scalars(select(Round)).one().two_level_closure = True
        f = s.get(Finding, world.closed_a)
        f.closed_at, f.closed_by_id = LONG_AGO, world.sup_1
    r = post_form(client(app, world.contact_b), world.open_b, "extension", proposed="2024-02-08",
                  ext_reason="资金未到位")
    assert r.status_code == 303
    with rt.sessions() as s:
        request_id = s.scalars(select(ExtensionRequest.id)).one()
    return world, str(request_id)


def _forms(w, request_id: str) -> list[tuple[int, int, str, dict[str, str]]]:
    """(person, finding, action, fields) for every new form, each one that person may submit."""
    return [
        (w.contact_a, w.open_a, "extension", {"proposed": "2024-02-08", "ext_reason": "x"}),
        (w.sup_2, w.open_b, "extension/decide", {"request": request_id, "decision": "approve"}),
        (w.sup_2, w.open_b, "extension/decide", {"request": request_id, "decision": "refuse", "decision_note": "x"}),
        (w.admin, w.open_a, "reassign", {"unit": str(w.unit_b), "move_reason": "x"}),
        (w.sup_1, w.open_a, "deadline", {"new_due": "2024-02-02", "deadline_reason": "x"}),
        (w.leader_a, w.reported_a, "signoff", {"signoff_note": "x"}),
        (w.sup_1, w.closed_a, "recheck", {"decision": "confirm", "recheck_note": "x"}),
        (w.sup_1, w.closed_a, "recheck", {"decision": "reopen", "recheck_note": "x", "reopen_due": "2024-02-20"}),
    ]


def _everything(rt) -> tuple:
    with rt.sessions() as s:
        findings = tuple(s.execute(select(Finding.id, Finding.version, Finding.state, Finding.unit_id,
                                          Finding.due_date, Finding.head_signed_at, Finding.rechecked_at)
                                   .order_by(Finding.id)))
        requests = tuple(s.execute(select(ExtensionRequest.id, ExtensionRequest.state)))
        return findings, requests, s.scalar(select(func.count()).select_from(Event))


def test_it_refuses_every_new_form_without_the_sessions_csrf_token(app, rt, ready) -> None:
    w, request_id = ready
    forms = [*_forms(w, request_id), (w.leader_a, 0, "bulk-signoff", {"pick": f"{w.reported_a}:1"})]
    foreign = csrf_of(client(app, w.sup_2))  # genuine, but another session's
    before = _everything(rt)
    for person, fid, action, fields in forms:
        c = client(app, person)
        path = f"/findings/{action}" if fid == 0 else f"/findings/{fid}/{action}"
        for token in (None, "", "forged", foreign):
            payload = {**fields, "version": "1"}
            if token is not None:
                payload["csrf_token"] = token
            r = c.post(path, data=payload)
            assert r.status_code == 403 and "页面已失效" in r.text, (action, token)
    assert _everything(rt) == before


def test_it_refuses_every_new_form_loaded_before_a_change(app, rt, ready) -> None:
    w, request_id = ready
    for person, fid, action, fields in _forms(w, request_id):
        c = client(app, person)
        csrf, version = form_tokens(c, fid)
        with rt.sessions() as s, s.begin():  # an import corrects the finding meanwhile
            s.get(Finding, fid).note += "（已更正）"
        before = _everything(rt)
        r = c.post(f"/findings/{fid}/{action}", data={"csrf_token": csrf, "version": str(version), **fields})
        assert r.status_code == 409 and "您的提交未生效" in r.text, action
        assert _everything(rt) == before, action


def _leaks(page: str) -> bool:
    return "<script>alert" in page or "<img src=x" in page


def test_it_escapes_every_new_free_text_field(app, rt, ready) -> None:
    w, request_id = ready
    with rt.sessions() as s, s.begin():  # a second closed finding to reopen
        f = s.get(Finding, w.reported_a2)
        f.state, f.closed_at, f.closed_by_id = "closed", LONG_AGO, w.sup_1
    contact_b, sup_2 = client(app, w.contact_b), client(app, w.sup_2)
    assert post_form(sup_2, w.open_b, "extension/decide", request=request_id, decision="refuse",
                     decision_note=XSS).status_code == 303
    r = post_form(contact_b, w.open_b, "extension", proposed="", ext_reason=XSS)  # refused, typed text shown again
    assert r.status_code == 400 and XSS_ESCAPED in r.text and not _leaks(r.text)
    assert post_form(contact_b, w.open_b, "extension", proposed="2024-02-08", ext_reason=XSS).status_code == 303
    admin, sup_1, leader = client(app, w.admin), client(app, w.sup_1), client(app, w.leader_a)
    steps = [
        (sup_2, w.open_b, "deadline", {"new_due": "2024-02-05", "deadline_reason": XSS}),
        (leader, w.reported_a, "signoff", {"signoff_note": XSS}),
        (sup_1, w.closed_a, "recheck", {"decision": "confirm", "recheck_note": XSS}),
        (sup_1, w.reported_a2, "recheck", {"decision": "reopen", "recheck_note": XSS, "reopen_due": "2024-02-20"}),
        (admin, w.open_a, "reassign", {"unit": str(w.unit_b), "move_reason": XSS}),
    ]
    for c, fid, action, fields in steps:
        assert post_form(c, fid, action, **fields).status_code == 303, action
    shown = {
        w.open_b: 6,  # refusal note (extensions, trail), new request (pending, extensions, trail), deadline reason
        w.reported_a: 1, w.closed_a: 1, w.reported_a2: 2, w.open_a: 1,  # reopen: its event and the new deadline
    }
    for fid, times in shown.items():
        page = admin.get(f"/findings/{fid}").text
        assert not _leaks(page), fid
        assert page.count(XSS_ESCAPED) == times, (fid, page.count(XSS_ESCAPED))
    for c in (contact_b, sup_2, admin):
        for path in ("/findings", "/findings?pending=1", "/findings?recheck=1", "/status"):
            r = c.get(path)
            assert r.status_code in (200, 403) and not _leaks(r.text), path
    # A refused form shows what was typed again, escaped.
    r = post_form(sup_1, w.reported_a, "deadline", new_due="", deadline_reason=XSS)
    assert r.status_code == 400 and XSS_ESCAPED in r.text and not _leaks(r.text)
