"""How uvicorn serves the form: whom to believe about client addresses, how long to wait for a slow
client, and which paths never reach the access log in full (issue 13.5, 13.9).

- X-Forwarded-For is applied only for peers listed in web.trusted_proxies (default: none), so a
  loopback client cannot write any address it likes into the audit trail.
- A connection must deliver a request's headers within web.header_timeout seconds (uvicorn has
  only a keep-alive timeout, which stops counting at the first byte), in at most MAX_HEADER_BYTES,
  and idles at most web.keep_alive_timeout between requests.
- The HTTP parser is httptools (C, llhttp) when it is installed, else h11 (pure Python, ~0.3 ms more
  CPU per request): both get the same header timeout and size cap (HeaderTimeout below).
- The access log shows /auth/<token> as /auth/[redacted]: a log file must not hold sign-in links.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: h11 only
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

from rectify.config import Settings

MAX_HEADER_BYTES = 64 * 1024
_TOKEN_PATH = re.compile(r"/auth/[^/?\s\"]+")


def redact(path: str) -> str:
    return _TOKEN_PATH.sub("/auth/[redacted]", path)


class RedactTokens(logging.Filter):
    """On uvicorn.access: its record args are (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], redact(record.args[2]), *record.args[3:])
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


class HeaderTimeout:
    """Mixed into uvicorn's HTTP/1.1 protocols: a connection whose request headers do not arrive within
    header_timeout seconds (or exceed MAX_HEADER_BYTES) is closed. Between requests means: no request
    yet, or the last one answered; the timer runs from the connection or the previous answer until the
    next request's headers are complete, whatever trickles in meanwhile (a slowloris client)."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm()
        super().data_received(data)  # type: ignore[misc]
        if not self._between_requests():
            self._disarm()
        elif self._header_timer is not None:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self._disarm()
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _between_requests(self) -> bool:
        cycle = self.cycle  # type: ignore[attr-defined]
        return cycle is None or cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)  # type: ignore[attr-defined]

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._between_requests() and not self.transport.is_closing():  # type: ignore[attr-defined]
            self.transport.close()  # type: ignore[attr-defined]


class HeaderTimeoutH11(HeaderTimeout, H11Protocol):
    """h11 (pure Python) with the header timeout."""


if HttpToolsProtocol is not None:
    class HeaderTimeoutHttpTools(HeaderTimeout, HttpToolsProtocol):
        """httptools (llhttp, C) with the header timeout and size cap."""


def protocol_class() -> type[HeaderTimeout]:
    """The fastest HTTP/1.1 protocol installed, with the header timeout (its class, for uvicorn's `http`)."""
    return HeaderTimeoutH11 if HttpToolsProtocol is None else HeaderTimeoutHttpTools


def protocol_path() -> str:
    """The same, by name: `rectify web --workers N` hands it to worker processes as a string."""
    return f"web.server:{protocol_class().__name__}"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.Config / uvicorn.run, from the settings."""
    web = settings.web
    protocol = type("Rectify" + protocol_class().__name__, (protocol_class(),), {"header_timeout": web.header_timeout})
    install_log_redaction()
    return {"proxy_headers": bool(web.trusted_proxies),
            "forwarded_allow_ips": ",".join(web.trusted_proxies) if web.trusted_proxies else "",
            "timeout_keep_alive": web.keep_alive_timeout, "http": protocol,
            "h11_max_incomplete_event_size": 64 * 1024}
