"""Smaller hardening (issue 13.9, 13.5): X-Forwarded-For only from trusted proxies, slow headers cut off,
tokens out of the access log, bidi controls out of file names, API docs behind sign-in."""

from __future__ import annotations

import logging
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi import Request
from sqlalchemy import select

from models import Evidence
from rectify.config import Settings
from tests.support.smtp import free_port
from tests.web import samples
from tests.web.helpers import client
from tests.web.test_web_uploads import _report
from web.evidence import clean_filename
from web.server import (
    MAX_HEADER_BYTES,
    HeaderTimeoutH11,
    HeaderTimeoutHttpTools,
    protocol_class,
    redact,
    uvicorn_options,
)


class _Server:
    def __init__(self, app, settings: Settings, http: type | None = None) -> None:
        self.port = free_port()
        options = uvicorn_options(settings)
        if http is not None:  # the same header timeout on either parser
            options["http"] = type("Test" + http.__name__, (http,), {"header_timeout": settings.web.header_timeout})
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive()
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _with_peer_route(app):
    def peer(request: Request) -> dict[str, str]:
        return {"ip": request.client.host if request.client else ""}

    app.add_api_route("/peer-for-test", peer)
    return app


@pytest.mark.parametrize(("trusted", "seen"), [([], "127.0.0.1"), (["127.0.0.1"], "203.0.113.9")])
def test_it_believes_x_forwarded_for_only_from_trusted_proxies(app, rt, trusted, seen) -> None:
    settings = rt.settings.model_copy(update={"web": rt.settings.web.model_copy(update={"trusted_proxies": trusted})})
    with _Server(_with_peer_route(app), settings) as srv:
        r = httpx.get(f"http://127.0.0.1:{srv.port}/peer-for-test", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.json() == {"ip": seen}


PROTOCOLS = [HeaderTimeoutH11, HeaderTimeoutHttpTools]


def test_it_serves_with_httptools_when_installed() -> None:
    assert protocol_class() is HeaderTimeoutHttpTools  # a dependency (pyproject): the parser in C


@pytest.mark.parametrize("http", PROTOCOLS, ids=lambda p: p.__name__)
def test_it_closes_a_connection_whose_headers_never_finish(app, rt, http) -> None:
    settings = rt.settings.model_copy(update={"web": rt.settings.web.model_copy(update={"header_timeout": 0.5})})
    with _Server(app, settings, http) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        sock.sendall(b"GET /signin HTTP/1.1\r\nHost: x\r\n")  # and then nothing more: a slowloris client
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 3
        sock.close()
        fine = httpx.get(f"http://127.0.0.1:{srv.port}/signin")  # a normal request is unaffected
        assert fine.status_code == 200


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a socket timeout, i.e. still open, fails the test)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


@pytest.mark.parametrize("http", PROTOCOLS, ids=lambda p: p.__name__)
def test_it_closes_a_connection_whose_headers_grow_past_the_cap(app, rt, http) -> None:
    settings = rt.settings.model_copy(update={"web": rt.settings.web.model_copy(update={"header_timeout": 60})})
    with _Server(app, settings, http) as srv:  # the timeout is far: only the size can close it
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        sock.sendall(b"GET /signin HTTP/1.1\r\nHost: x\r\n")
        filler = b"X-Filler: " + b"a" * 988 + b"\r\n"
        try:
            for _ in range(2 * MAX_HEADER_BYTES // len(filler)):
                sock.sendall(filler)
        except OSError:
            pass  # closed while we were still sending
        answer = _until_closed(sock)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:80]  # closed; h11 says 400 first
        sock.close()
        assert httpx.get(f"http://127.0.0.1:{srv.port}/signin").status_code == 200


def test_it_keeps_sign_in_tokens_out_of_the_access_log(caplog) -> None:
    from web.server import install_log_redaction

    install_log_redaction()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                                                 "/auth/eyJwIjo3fQ.abc-_def?next=/findings/3", "1.1", 200)
    assert "eyJwIjo3fQ" not in caplog.text and "/auth/[redacted]?next=/findings/3" in caplog.text
    assert redact("/findings/3") == "/findings/3"


def test_it_strips_bidi_controls_from_evidence_names(app, rt, world) -> None:
    assert clean_filename("整改\u202egpj.pdf") == "整改gpj.pdf"
    assert clean_filename("a\u2066b\u200fc.pdf") == "abc.pdf"
    c = client(app, world.contact_a)
    r = _report(c, world.open_a, [("报告\u202efdp.pdf", samples.pdf(), "application/pdf")])
    assert r.status_code == 303
    with rt.sessions() as s:
        assert s.scalars(select(Evidence.filename)).one() == "报告fdp.pdf"


def test_it_keeps_the_api_docs_behind_sign_in_unless_made_public(app, rt, world) -> None:
    anon = client(app)
    assert anon.get("/docs").status_code == 303 and anon.get("/openapi.json").status_code == 303
    signed = client(app, world.contact_a)
    assert signed.get("/docs").status_code == 200 and "paths" in signed.get("/openapi.json").json()
    rt.settings = rt.settings.model_copy(update={"web": rt.settings.web.model_copy(update={"public_docs": True})})
    assert anon.get("/openapi.json").status_code == 200
