"""Uploads are read only for a signed-in person, and never past the cap, whatever the headers say
(issue 13.3). A real uvicorn and a raw socket: chunked bodies without Content-Length, as the review sent."""

from __future__ import annotations

import socket
import time

import pytest

from rectify.runtime import Runtime
from tests.web.helpers import NOW, LiveServer, client
from web.app import create_app
from web.auth import COOKIE

MIB = 1024 * 1024


def _poll(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""


def _chunked_post(port: int, path: str, cookie: str, total: int) -> tuple[int, int]:
    """POST `total` bytes in 256 KiB chunks; returns (status, bytes sent before the answer came)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {COOKIE}={cookie}\r\n"
            "Content-Type: multipart/form-data; boundary=XX\r\nTransfer-Encoding: chunked\r\n\r\n")
    sock.sendall(head.encode())
    part = b"--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.pdf\"\r\n\r\n"
    chunk = b"%PDF-" + b"\0" * (256 * 1024 - 5)
    sent, answer = 0, b""
    sock.setblocking(False)
    try:
        for data in (part, *([chunk] * (total // len(chunk)))):
            view = memoryview(b"%x\r\n" % len(data) + data + b"\r\n")
            deadline = time.monotonic() + 10
            while view and not answer:
                try:
                    n = sock.send(view)
                    view, sent = view[n:], sent + n
                except BlockingIOError:
                    time.sleep(0.005)
                    assert time.monotonic() < deadline, "server neither read nor answered"
                answer += _poll(sock)
            if answer:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.setblocking(True)
    while b"\r\n" not in answer:
        more = sock.recv(65536)
        assert more, "connection closed without an answer"
        answer += more
    sock.close()
    return int(answer.split(b" ", 2)[1]), sent


@pytest.fixture
def small_cap_server(rt: Runtime, world):
    rt.settings = rt.settings.model_copy(update={"web": rt.settings.web.model_copy(update={"max_upload_mib": 1})})
    app = create_app(rt, clock=lambda: NOW)
    server = LiveServer(app).start()
    yield app, server
    server.stop()


def test_it_reads_no_upload_for_an_anonymous_cookie(small_cap_server, world) -> None:
    app, server = small_cap_server
    anon = client(app)
    anon.get("/signin")  # the anonymous sign-in cookie, all the review had
    status, sent = _chunked_post(server.port, f"/findings/{world.open_a}/report", anon.cookies[COOKIE], 64 * MIB)
    assert status == 303 and sent < 8 * MIB  # answered (to the sign-in page) without taking the body


def test_it_stops_a_chunked_upload_at_the_cap(small_cap_server, rt, world) -> None:
    app, server = small_cap_server
    signed_in = client(app, world.contact_a)
    status, sent = _chunked_post(server.port, f"/findings/{world.open_a}/report", signed_in.cookies[COOKIE],
                                 64 * MIB)
    assert status == 413 and sent < 11 * MIB + 8 * MIB  # the cap (1 MiB × 10 files + 1) plus socket buffers
    assert not rt.settings.evidence_path.exists()


def test_it_refuses_a_cross_site_post_before_reading_it(app, world) -> None:
    c = client(app, world.contact_a)
    r = c.post(f"/findings/{world.open_a}/report", content=b"x" * 10,
               headers={"content-type": "multipart/form-data; boundary=b", "origin": "https://evil.example"})
    assert r.status_code == 403
