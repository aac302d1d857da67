"""The daily run's delivery against SMTP servers that demand STARTTLS and a login, or speak implicit TLS.

A throwaway CA signs a certificate for 127.0.0.1; the client trusts it through SSL_CERT_FILE, as an
administrator would trust a county's internal CA. No mocks: aiosmtpd does the TLS and the AUTH.
"""

from __future__ import annotations

import datetime as dt
import ssl
from datetime import UTC, date, datetime
from ipaddress import IPv4Address

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy import select

from models import OutboxMessage
from rectify.mail import outbox
from rectify.mail.compose import build_message_bytes
from rectify.mail.deliver import flush_outbox
from tests.support.smtp import Handler, free_port

NOW = datetime(2024, 1, 31, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """(CA file, server SSLContext) for a certificate naming 127.0.0.1."""
    folder = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key, issuer_name, issuer_key, *, ca: bool):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
                                critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, srv_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "县政务内网测试CA")])
    ca = cert("县政务内网测试CA", ca_key, ca_name, ca_key, ca=True)
    srv = cert("127.0.0.1", srv_key, ca_name, ca_key, ca=False)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "srv.pem").write_bytes(srv.public_bytes(serialization.Encoding.PEM))
    (folder / "srv.key").write_bytes(srv_key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(folder / "srv.pem", folder / "srv.key")
    return folder / "ca.pem", ctx


class Accounts:
    def __init__(self) -> None:
        self.logins: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"rectify", b"s3cret")
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def queue(rt, *to: str) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [outbox.Queued(
            a, "daily", date(2024, 1, 31), subject="【整改提醒】县财政局：1项整改任务今日到期",
            message=build_message_bytes(from_addr="rectify@county.example", from_name="整改督办系统", to=a,
                                        subject="【整改提醒】县财政局：1项整改任务今日到期", text="正文",
                                        html="<p>正文</p>", now=NOW)) for a in to], NOW)


def smtp(settings, port: int, security: str, password: str = "s3cret"):
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update={
        "host": "127.0.0.1", "port": port, "security": security, "username": "rectify",
        "password": SecretStr(password),
        "timeout": 5.0, "from_addr": "rectify@county.example"})})


def test_it_sends_over_starttls_with_a_login(rt, settings, pki, monkeypatch) -> None:
    ca, ctx = pki
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    handler, accounts, port = Handler(), Accounts(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                        authenticator=accounts, auth_required=True, auth_require_tls=True)
    server.start()
    try:
        queue(rt, "a@unit.example", "b@unit.example")
        report = flush_outbox(rt.sessions, smtp(settings, port, "starttls"), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 2 and report.failed == [] and report.pending == []
    assert sorted(r.rcpt[0] for r in handler.received) == ["a@unit.example", "b@unit.example"]
    assert accounts.logins and set(accounts.logins) == {"rectify"}
    assert {r.envelope_from for r in handler.received} == {"rectify@county.example"}


def test_it_keeps_every_row_pending_on_a_wrong_password_and_says_what_to_fix(rt, settings, pki, monkeypatch) -> None:
    ca, ctx = pki
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    handler, port = Handler(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                        authenticator=Accounts(), auth_required=True, auth_require_tls=True)
    server.start()
    try:
        queue(rt, "a@unit.example", "b@unit.example", "c@unit.example")
        report = flush_outbox(rt.sessions, smtp(settings, port, "starttls", password="wrong"), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 0 and handler.received == [] and report.failed == []
    assert "535" in report.config_error and "smtp.password" in report.config_error
    assert "\n" not in report.config_error
    with rt.sessions() as s:  # a configuration problem burns no letter and no attempt
        rows = s.scalars(select(OutboxMessage)).all()
        assert {(r.state, r.attempts, r.claimed_by) for r in rows} == {("pending", 0, None)}
        assert all("smtp.password" in r.last_error for r in rows)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_it_sends_over_implicit_tls(rt, settings, pki, monkeypatch) -> None:
    ca, ctx = pki
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    handler, accounts, port = Handler(), Accounts(), free_port()
    # The whole connection is TLS; aiosmtpd only counts STARTTLS for auth_require_tls.
    server = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=ctx, authenticator=accounts,
                        auth_required=True, auth_require_tls=False)
    server.start()
    try:
        queue(rt, "a@unit.example")
        report = flush_outbox(rt.sessions, smtp(settings, port, "tls"), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 1 and [r.rcpt for r in handler.received] == [["a@unit.example"]]
    assert accounts.logins == ["rectify"]


def test_it_refuses_a_server_whose_certificate_it_does_not_trust(rt, settings, pki) -> None:
    _, ctx = pki  # no SSL_CERT_FILE: the county CA is unknown
    handler, port = Handler(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=ctx)
    server.start()
    try:
        queue(rt, "a@unit.example")
        report = flush_outbox(rt.sessions, smtp(settings, port, "tls"), NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 0 and handler.received == [] and report.failed == []
    assert "certificate" in report.config_error and "smtp.ca_file" in report.config_error
    with rt.sessions() as s:  # kept, to retry once the CA is configured
        assert [r.state for r in s.scalars(select(OutboxMessage))] == ["pending"]


def test_it_trusts_a_private_ca_named_in_smtp_ca_file(rt, settings, pki) -> None:
    ca, ctx = pki  # no SSL_CERT_FILE: only smtp.ca_file names the county CA
    handler, accounts, port = Handler(), Accounts(), free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                        authenticator=accounts, auth_required=True, auth_require_tls=True)
    server.start()
    try:
        queue(rt, "a@unit.example")
        cfg = smtp(settings, port, "starttls")
        cfg = cfg.model_copy(update={"smtp": cfg.smtp.model_copy(update={"ca_file": ca})})
        report = flush_outbox(rt.sessions, cfg, NOW, backoff=0.01)
    finally:
        server.stop()
    assert report.sent == 1 and accounts.logins == ["rectify"] and report.config_error == ""
