"""Hostile-input fuzz over every form field (issue 13.8, 13.2): whatever is typed into any field of any form,
or into the list's query, the answer is never a 500 and no page shows it as live markup.
Bounded: five examples per backend, each posting every form once as the person who may use it."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.markup import hostile_text, live_markup
from tests.web.helpers import client, csrf_of, form_tokens

FIELDS = ("measures", "progress", "note", "reason", "proposed", "ext_reason", "request", "decision",
          "approved_due", "decision_note", "new_due", "deadline_reason", "unit", "move_reason", "signoff_note",
          "recheck_note", "reopen_due", "q", "state", "page", "email", "next", "version", "pick", "filename")
# (who, action, fields of that form)
FORMS = [
    ("contact_a", "open_a", "report", ("measures", "progress")),
    ("contact_a", "open_a", "extension", ("proposed", "ext_reason")),
    ("sup_1", "reported_a", "verify", ("decision", "note")),
    ("sup_1", "reported_a", "extension/decide", ("request", "decision", "approved_due", "decision_note")),
    ("sup_1", "open_a", "deadline", ("new_due", "deadline_reason")),
    ("admin", "open_a", "reassign", ("unit", "move_reason")),
    ("admin", "reported_a2", "cancel", ("reason",)),
    ("leader_a", "reported_a", "signoff", ("signoff_note",)),
    ("sup_1", "closed_a", "recheck", ("decision", "recheck_note", "reopen_due")),
]


def _ok(r) -> None:
    assert r.status_code < 500, (r.request.url, r.status_code)
    if r.headers.get("content-type", "").startswith("text/html"):
        assert live_markup(r.text) == [], (r.request.url, live_markup(r.text))


@pytest.mark.slow
@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None,
          phases=[Phase.explicit, Phase.generate])  # no shrinking: each example posts every form
@given(st.fixed_dictionaries({k: hostile_text() for k in FIELDS}))
def test_it_answers_every_form_field_without_500_or_live_markup(app, world, t) -> None:
    clients = {who: client(app, getattr(world, who)) for who in ("contact_a", "sup_1", "admin", "leader_a")}
    for who, finding, action, fields in FORMS:
        c, fid = clients[who], getattr(world, finding)
        csrf, version = form_tokens(c, fid)
        data = {"csrf_token": csrf, "version": str(version), **{f: t[f] for f in fields}}
        files = [("files", (t["filename"] + ".pdf", b"%PDF-1.4 x", "application/pdf"))] if action == "report" else None
        _ok(c.post(f"/findings/{fid}/{action}", data=data, files=files))
        _ok(c.post(f"/findings/{fid}/{action}", data={**data, "version": t["version"]}))
        _ok(c.get(f"/findings/{fid}"))
    sup = clients["sup_1"]
    _ok(sup.post("/findings/bulk-verify", data={"csrf_token": csrf_of(sup), "pick": t["pick"], "note": t["note"]}))
    _ok(clients["leader_a"].post("/findings/bulk-signoff", data={"csrf_token": csrf_of(clients["leader_a"]),
                                                                   "pick": t["pick"], "note": t["note"]}))
    for c in clients.values():
        _ok(c.get("/findings", params={k: t[k] for k in ("q", "state", "unit", "page")}))
        _ok(c.get("/status", params={"colour": t["state"], "sort": t["q"]}))
    anon = client(app)
    _ok(anon.get("/signin", params={"next": t["next"]}))
    _ok(anon.post("/signin", data={"csrf_token": csrf_of(anon, "/signin"), "email": t["email"], "next": t["next"]}))
    _ok(anon.get(f"/auth/{quote(t['q'], safe='')}", params={"next": t["next"]}))
