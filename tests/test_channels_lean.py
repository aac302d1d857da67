"""The lean keep-alive client of the per-row sends (rectify/channels/lean.py) against real servers on 127.0.0.1:
the fake vendors, and a raw asyncio server answering with the framings httpx would accept (chunked, close,
HTTP/1.0, 100 Continue, gzip), closing idle connections, never answering, or not listening."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl

import httpx
import pytest

from rectify.channels.http import VendorClient, send
from rectify.channels.lean import LeanClient
from rectify.serving import free_port
from tests.support.fake_vendors import FakeVendors

BODY = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()


def _lean(timeout: float = 2.0) -> LeanClient:
    return LeanClient(ssl.create_default_context(), timeout, 4)


class Raw:
    """An asyncio server whose answers are scripted bytes; counts connections and keeps what it read."""

    def __init__(self, answers: list[bytes], close_after: bool = False) -> None:
        self.answers, self.close_after = answers, close_after
        self.connections, self.requests = 0, []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                size = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                             if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + await reader.readexactly(size))
                answer = self.answers.pop(0)
                if answer:  # b"": read the request, never answer
                    writer.write(answer)
                    await writer.drain()
                else:
                    await asyncio.sleep(5)
                if self.close_after:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc) -> None:
        self.server.close()


def test_it_posts_json_and_keeps_one_connection_for_many_sends() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)

    async def go() -> tuple[list[int], Raw]:
        raw = Raw([ok] * 3)
        async with raw as url:
            client = VendorClient(transport=httpx.AsyncHTTPTransport(), timeout=2, lean=_lean())
            got = [(await send(client, "POST", f"{url}/cgi-bin/message/send", params={"access_token": "T"},
                               json={"touser": "李", "n": i})).json()["errcode"] for i in range(3)]
            await client.aclose()
        return got, raw

    got, raw = asyncio.run(go())
    assert got == [0, 0, 0] and raw.connections == 1
    head, _, body = raw.requests[1].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /cgi-bin/message/send?access_token=T HTTP/1.1\r\n")
    assert b"Content-Type: application/json" in head and json.loads(body) == {"touser": "李", "n": 1}


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n" + BODY[:5] + b"\r\n%x\r\n" % (len(BODY) - 5)
    + BODY[5:] + b"\r\n0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(gzip.compress(BODY)),
                                                                                   gzip.compress(BODY)),
    b"HTTP/1.0 200 OK\r\n\r\n" + BODY,  # delimited by the end of the connection
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
], ids=["chunked", "continue", "gzip", "http10", "close"])
def test_it_reads_every_framing_and_reconnects_when_the_server_closes(answer: bytes) -> None:
    async def go() -> tuple[list[int], int]:
        raw = Raw([answer, answer], close_after=b"close" in answer or b"HTTP/1.0" in answer)
        async with raw as url:
            lean = _lean()
            got = []
            for _ in range(2):
                origin, head, body = lean.prepare("POST", f"{url}/sms/send", None, {"x": 1}, None, None)
                got.append((await origin.request(head, body)).json()["errcode"])
            lean.close()
        return got, raw.connections

    got, connections = asyncio.run(go())
    assert got == [0, 0]
    assert connections == (2 if b"close" in answer or b"HTTP/1.0" in answer else 1)


def test_a_silent_server_is_a_read_timeout_and_a_closed_port_a_connect_error() -> None:
    async def go() -> None:
        async with Raw([b""]) as url:
            lean = _lean(timeout=0.2)
            origin, head, body = lean.prepare("POST", f"{url}/x", None, {}, None, None)
            with pytest.raises(httpx.ReadTimeout):
                await origin.request(head, body)
            assert not origin.idle  # the half-used connection is dropped
        origin, head, body = lean.prepare("POST", f"http://127.0.0.1:{free_port()}/x", None, {}, None, None)
        with pytest.raises(httpx.ConnectError):
            await origin.request(head, body)

    asyncio.run(go())


def test_what_it_would_not_write_faithfully_goes_through_httpx() -> None:
    lean = _lean()
    assert lean.prepare("POST", "http://127.0.0.1:1/短信?a=b c", None, {}, None, None) is None
    assert lean.prepare("POST", "http://127.0.0.1:1/x", None, None, b"", {"X-A": "1\r\nX-B: 2"}) is None
    assert lean.prepare("POST", "ftp://127.0.0.1/x", None, None, b"", None) is None
    fake = FakeVendors().start()
    try:
        async def go() -> int:
            client = VendorClient(transport=httpx.AsyncHTTPTransport(), timeout=2, lean=lean)
            resp = await send(client, "POST", f"{fake.url}/cgi-bin/备注", params={"access_token": "T"},
                              json={"touser": "LiLi"})
            await client.aclose()
            return resp.json()["errcode"]

        assert asyncio.run(go()) == 404  # answered by the fake (no such path) through httpx, which escaped it
        assert fake.requests == ["/cgi-bin/%E5%A4%87%E6%B3%A8?access_token=T"]
    finally:
        fake.stop()


async def _serve(handle) -> tuple[asyncio.AbstractServer, str]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    size = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(size)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


async def _twice(handle, pause: float = 0.0) -> list:
    """Two requests through one lean client to a server running `handle`, `pause` seconds apart: the answers."""
    server, url = await _serve(handle)
    lean = _lean()
    got = []
    for _ in range(2):
        origin, head, body = lean.prepare("POST", f"{url}/x", None, {}, None, None)
        got.append(await origin.request(head, body))
        await asyncio.sleep(pause)
    lean.close()
    server.close()
    return got


def test_an_answer_that_comes_a_byte_at_a_time_is_read_whole() -> None:
    async def handle(reader, writer) -> None:
        await _read_request(reader)
        for b in OK:  # each byte its own segment: the answer is put together across many reads
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        writer.close()

    async def go() -> dict:
        server, url = await _serve(handle)
        lean = _lean()
        origin, head, body = lean.prepare("POST", f"{url}/x", None, {"x": 1}, None, None)
        got = (await origin.request(head, body)).json()
        lean.close()
        server.close()
        return got

    assert asyncio.run(go()) == {"errcode": 0, "errmsg": "ok"}


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"errcode\"",  # closed in the middle of the body
    b"HTTP/1.1 200 OK\r\nContent-Len",  # closed in the middle of the head
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"err",  # in the middle of a chunk
    b"SMTP 220 ready\r\n\r\n",  # not HTTP at all
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n{}\r\n0\r\n\r\n",
], ids=["body", "head", "chunk", "not-http", "bad-header", "negative-length", "negative-chunk"])
def test_a_cut_or_malformed_answer_is_a_protocol_error_and_the_connection_is_dropped(answer: bytes) -> None:
    async def handle(reader, writer) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def go() -> None:
        server, url = await _serve(handle)
        lean = _lean()
        origin, head, body = lean.prepare("POST", f"{url}/x", None, {}, None, None)
        with pytest.raises(httpx.RemoteProtocolError):
            await origin.request(head, body)
        assert not origin.idle
        lean.close()
        server.close()

    asyncio.run(go())


def test_bytes_after_the_answer_keep_the_connection_from_being_used_again() -> None:
    connections = []

    async def handle(reader, writer) -> None:
        connections.append(writer)
        try:
            while True:
                await _read_request(reader)
                writer.write(OK + b"HTTP/1.1 200 OK\r\n")  # and the start of an answer nobody asked for
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    assert [a.json()["errcode"] for a in asyncio.run(_twice(handle))] == [0, 0]
    assert len(connections) == 2  # the second request did not read the first one's leftovers


def test_a_request_bigger_than_the_socket_buffers_reaches_a_slow_reader_whole() -> None:
    big = {"text": "整" * 2_000_000}  # ~6 MB of JSON: the transport pauses writing until the server reads
    seen: list[int] = []

    async def handle(reader, writer) -> None:
        await asyncio.sleep(0.2)  # the server is slow to start reading
        seen.append(len(await _read_request(reader)))
        writer.write(OK)
        await writer.drain()
        writer.close()

    async def go() -> int:
        server, url = await _serve(handle)
        lean = _lean(timeout=10)
        origin, head, body = lean.prepare("POST", f"{url}/x", None, big, None, None)
        got = (await origin.request(head, body)).status_code
        lean.close()
        server.close()
        assert seen[0] > 6_000_000 and seen[0] == len(head) + len(body) + len(origin.host_line) + 2
        return got

    assert asyncio.run(go()) == 200


def test_a_connection_that_received_bytes_while_idle_is_not_used_again() -> None:
    connections = []

    async def handle(reader, writer) -> None:
        connections.append(writer)
        await _read_request(reader)
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")  # unasked, still open
        await writer.drain()
        try:
            await _read_request(reader)
            writer.write(OK)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    got = asyncio.run(_twice(handle, pause=0.2))  # the 408 arrives while the connection is idle
    assert [a.status_code for a in got] == [200, 200]  # not the 408 read as the second request's answer
    assert len(connections) == 2


def test_it_speaks_tls_keeps_the_connection_and_refuses_a_certificate_it_does_not_trust() -> None:
    """The vendors are https: the same exchange through asyncio's TLS transport, verified against a CA."""
    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    connections = []

    async def handle(reader, writer) -> None:
        connections.append(writer)
        try:
            while True:
                seen = await _read_request(reader)
                assert b'"touser":"LiLi"' in seen
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    async def go() -> list[int]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        lean = LeanClient(trusting, 2.0, 4)
        got = []
        for _ in range(2):
            origin, head, body = lean.prepare("POST", f"{url}/cgi-bin/message/send", {"access_token": "T"},
                                              {"touser": "LiLi"}, None, None)
            got.append((await origin.request(head, body)).json()["errcode"])
        lean.close()
        stranger = LeanClient(ssl.create_default_context(), 2.0, 4)  # the system's CAs only
        origin, head, body = stranger.prepare("POST", f"{url}/x", None, {}, None, None)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await origin.request(head, body)
        stranger.close()
        server.close()
        return got

    assert asyncio.run(go()) == [0, 0]
    assert len(connections) == 1  # one kept for both requests (the stranger's handshake never got this far)
