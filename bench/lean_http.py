"""A lean HTTP/1.1 keep-alive client for bench/form_load.py: the load generator shares the 2 cores with
the server it measures, so it must cost little. httpx spends ~1 ms of CPU per request (cookie jar, URL
model, header objects, h11 state machine); this one writes the request bytes itself and parses only
the status line, Content-Length / chunked framing, Set-Cookie for the session and Connection: close,
over one asyncio stream per client. Enough for our own server's answers, not a general client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode


class HttpError(Exception):
    """The server answered something this client does not understand (or closed mid-answer)."""


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    location: str


class LeanClient:
    """One keep-alive connection; reconnects when the server closes it (Connection: close, idle timeout)."""

    def __init__(self, host: str, port: int, cookie_name: str) -> None:
        self.host, self.port = host, port
        self.cookie_name = cookie_name.encode()
        self.cookie = b""  # b"name=value" of the session cookie, once the server set one
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_header = f"{host}:{port}".encode()

    async def get(self, path: str) -> Answer:
        return await self._send(b"GET", path, b"", b"")

    async def post_form(self, path: str, fields: dict[str, str]) -> Answer:
        body = urlencode(fields).encode()
        return await self._send(b"POST", path, body, b"Content-Type: application/x-www-form-urlencoded\r\n")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def _send(self, method: bytes, path: str, body: bytes, extra: bytes) -> Answer:
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (method, path.encode(), self._host_header, extra)
        if self.cookie:
            head += b"Cookie: " + self.cookie + b"\r\n"
        if body or method == b"POST":
            head += b"Content-Length: %d\r\n" % len(body)
        request = head + b"\r\n" + body
        for attempt in (0, 1):  # a kept-alive connection the server closed meanwhile: once more, fresh
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None and self._writer is not None
            self._writer.write(request)
            try:
                return await self._answer(self._reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                await self.close()
                if attempt:
                    raise HttpError("connection closed before the answer") from None
        raise AssertionError("unreachable")

    async def _answer(self, reader: asyncio.StreamReader) -> Answer:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0][9:12])
        length, chunked, close, location = -1, False, False, ""
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
            elif name == b"location":
                location = value.strip().decode()
            elif name == b"set-cookie":
                pair = value.strip().split(b";", 1)[0]
                if pair.startswith(self.cookie_name + b"="):
                    self.cookie = b"" if pair == self.cookie_name + b'=""' else pair
        if chunked:
            body = await self._chunks(reader)
        elif length >= 0:
            body = await reader.readexactly(length)
        else:
            raise HttpError(f"answer {status} without Content-Length")
        if close:
            await self.close()
        return Answer(status, body, location)

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
