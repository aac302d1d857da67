"""Connection-level SMTP problems stop the flush and keep every row pending; STARTTLS whenever offered;
no password over an unencrypted connection unless `smtp.allow_plain_auth` (issue 12 item 5, issue 13 item 4).

Real aiosmtpd servers on 127.0.0.1; the certificate fixture comes from test_smtp_security.
"""

from __future__ import annotations

import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from models import OutboxMessage
from rectify.mail.deliver import flush_outbox
from tests.support.smtp import Handler, free_port
from tests.test_smtp_security import NOW, Accounts, pki, queue, smtp  # noqa: F401  (pki: a fixture)


class TlsAwareAccounts(Accounts):
    """Records whether each login came over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.over_tls.append(session.ssl is not None)
        return super().__call__(server, session, envelope, mechanism, auth_data)


def _rows(rt) -> set[tuple[str, int]]:
    with rt.sessions() as s:
        return {(r.state, r.attempts) for r in s.scalars(select(OutboxMessage))}


def _with(settings, **smtp_updates):
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update=smtp_updates)})


def test_it_uses_starttls_when_offered_even_with_security_none(rt, settings, pki) -> None:  # noqa: F811
    ca, ctx = pki
    handler, accounts, port = Handler(), TlsAwareAccounts(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                        authenticator=accounts, auth_required=True, auth_require_tls=True)
    server.start()
    try:
        queue(rt, "a@unit.example", "b@unit.example")
        report = flush_outbox(rt.sessions, _with(smtp(settings, port, "none"), ca_file=ca), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 2 and report.config_error == ""
    assert accounts.over_tls and all(accounts.over_tls)  # the password never crossed in clear


def test_it_sends_to_a_starttls_only_relay_without_login_when_security_is_none(rt, settings, pki) -> None:  # noqa: F811
    _, ctx = pki  # the relay's certificate is not trusted here: fine without a password to protect
    handler, port = Handler(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True)
    server.start()
    try:
        queue(rt, *(f"u{i}@unit.example" for i in range(5)))
        cfg = smtp(settings, port, "none")
        report = flush_outbox(rt.sessions, _with(cfg, username=""), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 5 and report.failed == [] and len(handler.received) == 5  # no 530 burnt letters


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_it_refuses_to_send_a_password_in_clear_unless_allowed(rt, settings) -> None:
    handler, accounts, port = Handler(), TlsAwareAccounts(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, authenticator=accounts, auth_required=True,
                        auth_require_tls=False)
    server.start()
    try:
        queue(rt, "a@unit.example", "b@unit.example")
        refused = flush_outbox(rt.sessions, smtp(settings, port, "none"), NOW, backoff=0.01)
        assert refused.sent == 0 and accounts.over_tls == [] and refused.failed == []
        assert "smtp.allow_plain_auth" in refused.config_error and "unencrypted" in refused.config_error
        assert _rows(rt) == {("pending", 0)}
        allowed = flush_outbox(rt.sessions, _with(smtp(settings, port, "none"), allow_plain_auth=True), NOW,
                               backoff=0.01)
    finally:
        server.stop()
    assert allowed.sent == 2 and accounts.over_tls and set(accounts.over_tls) == {False}


def test_it_fails_fast_and_keeps_rows_when_starttls_meets_a_plain_server(rt, settings) -> None:
    handler, port = Handler(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        queue(rt, *(f"u{i}@unit.example" for i in range(40)))
        t0 = time.monotonic()
        report = flush_outbox(rt.sessions, _with(smtp(settings, port, "starttls"), username=""), NOW)
        elapsed = time.monotonic() - t0
    finally:
        server.stop()
    assert "does not offer STARTTLS" in report.config_error and "smtp.security" in report.config_error
    assert report.sent == 0 and report.failed == [] and handler.received == []
    assert _rows(rt) == {("pending", 0)}
    assert elapsed < 5  # no retries with backoff per message: one connection tells


class RefusingSender(Handler):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        return "553 5.7.1 sender not allowed to relay"


def test_it_keeps_every_row_pending_when_the_server_refuses_the_sender(rt, settings) -> None:
    handler, port = RefusingSender(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        queue(rt, *(f"u{i}@unit.example" for i in range(10)))
        report = flush_outbox(rt.sessions, _with(smtp(settings, port, "none"), username=""), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 0 and report.failed == [] and "smtp.from_addr" in report.config_error
    assert _rows(rt) == {("pending", 0)}


def test_it_still_fails_only_the_refused_recipient(rt, settings) -> None:
    handler, port = Handler(refuse={"bad@unit.example"}), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        queue(rt, "bad@unit.example", "ok@unit.example")
        report = flush_outbox(rt.sessions, _with(smtp(settings, port, "none"), username=""), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 1 and report.config_error == ""
    assert [(to, e[:3]) for _, to, e in report.failed] == [("bad@unit.example", "550")]
