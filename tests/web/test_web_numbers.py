"""Odd numbers answer 400/404 with the security headers, never a 500 (issue 13.8)."""

from __future__ import annotations

import pytest

from tests.web.helpers import client, csrf_of, form_tokens
from web.app import SECURITY_HEADERS
from web.numbers import parse_int

ODD = ["²", "٣", "99999999999999999999", "9223372036854775808", "-1", "1e3", " 1", "0x1", ""]


def _headers_ok(r) -> bool:
    return all(r.headers.get(k) == v for k, v in SECURITY_HEADERS.items()) and r.headers["cache-control"] == "no-store"


def test_it_parses_only_ascii_digits_within_64_bits() -> None:
    assert [parse_int(v) for v in ODD] == [None] * len(ODD)
    assert parse_int("9223372036854775807") == 2**63 - 1 and parse_int("0012") == 12
    assert parse_int("7", maximum=5) is None


@pytest.mark.parametrize("path", [
    "/findings?page=²", "/findings?unit=²", "/findings?n=²&done=bulk", "/findings?page=99999999999999999999",
    "/findings/99999999999999999999", "/findings/²", "/evidence/99999999999999999999", "/evidence/٣",
    "/api/findings/99999999999999999999", "/api/findings?unit=²", "/api/findings?page=99999999999999999999",
])
def test_it_never_answers_500_to_an_odd_number_in_a_get(app, world, path: str) -> None:
    c = client(app, world.admin)
    r = c.get(path)
    assert r.status_code in (200, 400, 404, 422), (path, r.status_code)
    assert _headers_ok(r), path


def test_it_answers_anonymous_odd_numbers_without_500(app, world) -> None:
    for path in ("/findings?unit=²", "/findings/99999999999999999999", "/api/findings/99999999999999999999"):
        r = client(app).get(path)
        assert r.status_code in (303, 400, 401, 404, 422) and _headers_ok(r), path


def test_it_never_answers_500_to_an_odd_number_in_a_form(app, world) -> None:
    sup = client(app, world.sup_1)
    _, version = form_tokens(sup, world.reported_a)
    posts = [
        (f"/findings/{world.reported_a}/verify", {"version": "²", "decision": "close"}),
        (f"/findings/{world.reported_a}/verify", {"version": "99999999999999999999", "decision": "close"}),
        (f"/findings/{world.reported_a}/extension/decide", {"version": str(version), "request": "²",
                                                             "decision": "approve"}),
        (f"/findings/{world.reported_a}/reassign", {"version": str(version), "unit": "²", "move_reason": "x"}),
        (f"/findings/{world.reported_a}/reassign", {"version": str(version), "unit": "99999999999999999999",
                                                     "move_reason": "x"}),
        ("/findings/bulk-verify", {"pick": "²:1"}),
        ("/findings/bulk-verify", {"pick": "99999999999999999999:1"}),
        ("/findings/99999999999999999999/verify", {"version": "1"}),
    ]
    admin = client(app, world.admin)
    for path, data in posts:
        for c in (sup, admin):
            r = c.post(path, data={"csrf_token": csrf_of(c), **data})
            assert r.status_code in (303, 400, 403, 404, 409), (path, data, r.status_code)
            assert _headers_ok(r), path


def test_it_sends_the_security_headers_on_a_500_too(app, world) -> None:
    from fastapi.testclient import TestClient

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom-for-test", boom)
    r = TestClient(app, raise_server_exceptions=False).get("/boom-for-test")
    assert r.status_code == 500 and _headers_ok(r)
