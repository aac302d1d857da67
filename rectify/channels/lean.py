"""A lean HTTP/1.1 keep-alive client for the vendor requests (gettoken, message/send, asyncsend_v2,
getsendresult, the robots, the SMS gateway), each connection an asyncio protocol (_Conn).

Why: the daily run sends one request per person and channel, and on loopback-fast peers httpx spends about
1.6 ms of CPU on each even straight through its transport (httpcore's pool and h11's state machine, the
URL, header and request models, the response's stream wrappers): as much as sending a whole letter by SMTP.
These requests need none of that: a POST of bytes with a handful of headers, an answer with a status line,
Content-Length (or chunked) framing and a small JSON body. This client writes the request bytes itself and
reads back only that, keeping connections alive per origin as httpx does.

Same semantics as the httpx path it replaces (rectify/channels/http.py): the client's timeout on connect,
and on writing the request and reading its whole answer (httpx: per write and per read; stricter); TLS through the
same context; at most `size` idle connections, an idle one dropped after 5 s or once the server closed it;
no retry of its own (the dispatcher retries); failures raised as httpx's exceptions (ConnectError,
ConnectTimeout, WriteError, ReadTimeout, RemoteProtocolError, ...), so the dispatcher's handling is
unchanged; httpx itself is imported only once one is raised (importing it, with the command-line extras it
pulls in, costs the forked sender ~0.1 s of CPU: as much as a hundred sends). The TLS context is made on
the first https connection. Each request is logged as httpx logs it (logger "httpx", INFO, the URL
scrubbed by rectify.channels.errors' filter). A request it would not write faithfully (a URL with
characters to escape, a header with a line break, a scheme other than http/https) goes through httpx
instead (rectify/channels/http.py).
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import ssl
import time
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

log = logging.getLogger("httpx")  # the same lines as httpx's, under its logger (scrubbed by guard_http_logs)
KEEPALIVE = 5.0  # seconds an idle connection is kept (httpx's default keepalive_expiry)
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%")


class Headers(dict[str, str]):
    """The answer's headers, names lower-cased; `get` as httpx's (any case)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


class Answer:
    """What the vendors' answer readers use of httpx.Response: status_code, headers.get, content, json()."""

    __slots__ = ("content", "headers", "reason", "status_code", "version")

    def __init__(self, status: int, headers: Headers, content: bytes, version: str = "HTTP/1.1",
                 reason: str = "") -> None:
        self.status_code, self.headers, self.content = status, headers, content
        self.version, self.reason = version, reason

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _Incomplete(Exception):
    """The server closed the connection before the answer was whole."""


class _Conn(asyncio.Protocol):
    """One keep-alive connection as a protocol: the answer is parsed where its bytes arrive and handed to the
    request waiting for it, one wake-up a request (streams' readuntil/readexactly/drain cost three)."""

    __slots__ = ("buf", "eof", "idle_since", "lost", "paused", "transport", "waiter")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.eof = self.lost = self.paused = False
        self.idle_since = 0.0
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[Answer, bool]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is not None:
            self.settle()

    def eof_received(self) -> bool:
        self.eof = True
        if self.waiter is not None:
            self.settle()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = self.lost = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if exc is None:
            self.settle()
        else:
            kind = _httpx().WriteError if self.paused else _httpx().ReadError
            waiter.set_exception(kind(f"{type(exc).__name__}: {exc}"))

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False

    def settle(self) -> None:
        """Hand the waiting request its answer once the buffer holds all of it (or the error it makes)."""
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            got = _parse(self.buf, self.eof)
        except _Incomplete:
            waiter.set_exception(_httpx().RemoteProtocolError(
                "Server disconnected without sending a complete response."))
            return
        except ValueError as exc:
            waiter.set_exception(_httpx().RemoteProtocolError(f"malformed answer ({exc})"))
            return
        if got is not None:
            answer, keep, used = got
            del self.buf[:used]
            waiter.set_result((answer, keep and not self.buf and not self.eof))  # nothing unasked-for left

    def expire(self) -> None:
        """The exchange's timer: still writing (the server does not read) or still waiting for the answer."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(_httpx().WriteTimeout("writing the request timed out") if self.paused
                                 else _httpx().ReadTimeout("reading the answer timed out"))

    def usable(self, now: float) -> bool:
        """Idle for less than KEEPALIVE, open, and nothing unasked-for arrived on it (a server's 408 before
        closing, say: read as the next request's answer, it would be the wrong one)."""
        return (now - self.idle_since < KEEPALIVE and not self.eof and not self.buf
                and not self.transport.is_closing())  # type: ignore[union-attr]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _httpx() -> Any:
    """httpx, for its exception classes: imported on the first failure, not before."""
    import httpx

    return httpx


class Origin:
    """The keep-alive connections to one scheme://host:port."""

    def __init__(self, scheme: str, host: str, port: int, tls: Callable[[], ssl.SSLContext] | None,
                 timeout: float, size: int) -> None:
        self.host, self.port, self.tls, self.timeout, self.size = host, port, tls, timeout, size
        self.base = f"{scheme}://{host}" + ("" if port == (443 if scheme == "https" else 80) else f":{port}")
        default = 443 if scheme == "https" else 80
        self.host_line = b"Host: %s\r\n" % (host if port == default else f"{host}:{port}").encode("idna")
        self.idle: list[_Conn] = []

    async def request(self, head: bytes, body: bytes) -> Answer:
        """`head`: the request line and headers but Host and the blank line. The answer, read whole."""
        now = time.monotonic()
        conn = None
        while self.idle and conn is None:
            c = self.idle.pop()
            if c.usable(now):
                conn = c
            else:
                c.close()
        if conn is None:
            conn = await self._connect()
        try:
            answer, keep = await self._exchange(conn, head, body)
        except BaseException:  # a half-written request or half-read answer: the connection is lost
            conn.close()
            raise
        if keep and len(self.idle) < self.size:
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
        else:
            conn.close()
        if log.isEnabledFor(logging.INFO):  # as httpx: 'HTTP Request: POST https://… "HTTP/1.1 200 OK"'
            method, target = head.split(b" ", 2)[:2]
            log.info('HTTP Request: %s %s "%s %d %s"', method.decode(), self.base + target.decode(), answer.version,
                     answer.status_code, answer.reason)
        return answer

    async def _connect(self) -> _Conn:
        conn = _Conn()
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.get_running_loop().create_connection(
                    lambda: conn, self.host, self.port, ssl=self.tls() if self.tls else None,
                    server_hostname=self.host if self.tls else None)
        except TimeoutError:
            raise _httpx().ConnectTimeout(f"connect to {self.host}:{self.port} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise _httpx().ConnectError(f"{type(exc).__name__}: {exc}") from None
        return conn

    async def _exchange(self, conn: _Conn, head: bytes, body: bytes) -> tuple[Answer, bool]:
        """One timer for the whole exchange, as before (writing takes microseconds)."""
        loop = asyncio.get_running_loop()
        waiter = conn.waiter = loop.create_future()
        timer = loop.call_later(self.timeout, conn.expire)
        try:
            conn.transport.write(head + self.host_line + b"\r\n" + body)  # type: ignore[union-attr]
            return await waiter
        finally:
            timer.cancel()
            conn.waiter = None

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


HEAD_LIMIT = 65536  # bytes of an answer's status line and headers (asyncio streams' default limit, as before)


def _parse(buf: bytearray, eof: bool) -> tuple[Answer, bool, int] | None:
    """(answer, whether the connection may be kept, bytes used) once `buf` holds a whole answer; None: not
    yet. The head is decoded once, as latin-1 (HTTP's bytes); 1xx interim answers (100 Continue) skipped."""
    start = 0
    while True:
        end = buf.find(b"\r\n\r\n", start)
        if end < 0:
            if len(buf) - start > HEAD_LIMIT:
                raise ValueError("answer head too long")
            if eof:
                raise _Incomplete
            return None
        lines = buf[start:end].decode("latin-1").split("\r\n")
        start = end + 4
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1.") or len(rest) < 3:
            raise ValueError("not an HTTP/1.x status line")
        status = int(rest[:3])
        if status >= 200 or status == 101:
            break
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError("header line without a colon")
        key, val = name.strip().lower(), value.strip()
        fields[key] = f"{fields[key]}, {val}" if key in fields else val
    connection = fields.get("connection", "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if status in (204, 304):
        content, used = b"", start
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        got = _chunks(buf, start)
        if got is None:
            if eof:
                raise _Incomplete
            return None
        content, used = got
    elif "content-length" in fields:
        length = int(fields["content-length"])
        if length < 0:
            raise ValueError("negative Content-Length")
        used = start + length
        if len(buf) < used:
            if eof:
                raise _Incomplete
            return None
        content = bytes(buf[start:used])
    else:  # delimited by the end of the connection
        if not eof:
            return None
        content, used, keep = bytes(buf[start:]), len(buf), False
    coding = fields.get("content-encoding", "").lower()
    if coding in ("gzip", "deflate"):
        content = zlib.decompress(content, 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS)
    return Answer(status, Headers(fields), content, version, rest[4:].strip()), keep, used


def _chunks(buf: bytearray, at: int) -> tuple[bytes, int] | None:
    """(body, the offset past its last chunk and trailers) of a chunked body starting at `at`; None: not yet."""
    parts = []
    while True:
        eol = buf.find(b"\r\n", at)
        if eol < 0:
            return None
        size = int(bytes(buf[at:eol]).split(b";")[0], 16)
        if size < 0:
            raise ValueError("negative chunk size")
        at = eol + 2
        if size == 0:
            while True:  # trailers, up to the blank line
                eol = buf.find(b"\r\n", at)
                if eol < 0:
                    return None
                blank, at = eol == at, eol + 2
                if blank:
                    return b"".join(parts), at
        if len(buf) < at + size + 2:
            return None
        parts.append(bytes(buf[at:at + size]))
        at += size + 2


@lru_cache(maxsize=256)
def _where(url: str) -> tuple[str, str, int, str, str] | None:
    """(scheme, host, port, path, query) of a URL this client can write as it is; None otherwise. A run
    sends to a handful of URLs thousands of times."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    path = parts.path or "/"
    if not _SAFE.issuperset((path + parts.query).encode()):
        return None  # characters to escape: httpx's URL model does that
    return parts.scheme, parts.hostname, port, path, parts.query


@lru_cache(maxsize=64)
def _query(params: tuple[tuple[str, str], ...]) -> str:
    """The query of these parameters, as httpx encodes it: a run sends thousands with the same token."""
    return urlencode(params)


class LeanClient:
    """Origins by scheme://host:port, each with up to `size` idle keep-alive connections."""

    def __init__(self, tls: ssl.SSLContext | Callable[[], ssl.SSLContext], timeout: float, size: int,
                 user_agent: str = "rectify") -> None:
        """`tls`: the context, or what makes it (called on the first https connection, each time after)."""
        self.tls = tls if callable(tls) else lambda: tls
        self.timeout, self.size = timeout, size
        self.origins: dict[tuple[str, str, int], Origin] = {}
        self.agent = f"User-Agent: {user_agent}\r\nAccept: */*\r\n".encode()

    def prepare(self, method: str, url: str, params: dict[str, str] | None, json: Any, content: bytes | None,
                headers: dict[str, str] | None) -> tuple[Origin, bytes, bytes] | None:
        """(origin, head, body) of a request this client writes as httpx would; None: leave it to httpx."""
        where = _where(url)
        if where is None:
            return None
        scheme, host, port, path, query = where
        if params:
            query = _query(tuple(params.items()))  # httpx's params= replace the URL's query (urlencode escapes)
        target = path + ("?" + query if query else "")
        lines = [method, " ", target, " HTTP/1.1\r\n"]
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            lines.append("Content-Type: application/json\r\n")
        else:
            body = content or b""
        for name, value in (headers or {}).items():
            if any(c in name or c in value for c in "\r\n\0") or ":" in name:
                return None  # httpx refuses it (LocalProtocolError): as before
            lines.extend((name, ": ", value, "\r\n"))
        if body or method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(body)}\r\n")
        try:
            head = "".join(lines).encode("ascii")
        except UnicodeEncodeError:
            return None
        key = (scheme, host, port)
        origin = self.origins.get(key)
        if origin is None:
            origin = self.origins[key] = Origin(scheme, host, port, self.tls if scheme == "https" else None,
                                                self.timeout, self.size)
        return origin, head + self.agent, body

    def close(self) -> None:
        for origin in self.origins.values():
            origin.close()
