"""How uvicorn serves the form: whom to believe about client addresses, how long to wait for a slow
client, and which paths never reach the access log in full (issue 13.5, 13.9).

- X-Forwarded-For is applied only for peers listed in web.trusted_proxies (default: none), so a
  loopback client cannot write any address it likes into the audit trail.
- A connection must deliver a request's headers within web.header_timeout seconds (uvicorn has
  only a keep-alive timeout, which stops counting at the first byte), and idles at most
  web.keep_alive_timeout between requests.
- The access log shows /auth/<token> as /auth/[redacted]: a log file must not hold sign-in links.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from rectify.config import Settings

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


class HeaderTimeoutH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request headers do not arrive in time."""

    header_timeout = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm()
        super().data_received(data)
        if not self._between_requests():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.Config / uvicorn.run, from the settings."""
    web = settings.web
    protocol = type("RectifyH11", (HeaderTimeoutH11,), {"header_timeout": web.header_timeout})
    install_log_redaction()
    return {"proxy_headers": bool(web.trusted_proxies),
            "forwarded_allow_ips": ",".join(web.trusted_proxies) if web.trusted_proxies else "",
            "timeout_keep_alive": web.keep_alive_timeout, "http": protocol,
            "h11_max_incomplete_event_size": 64 * 1024}
