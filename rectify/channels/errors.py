"""What a vendor's answer means for the row: sent, never (fail it now), transient (retry), or the channel is
down (leave every row pending). Secrets are scrubbed from any text that is recorded or logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable


class SendError(Exception):
    """A send that did not go through. `never`: the vendor says it cannot ever succeed (bad userid, blocked
    number) - the row fails at once with the vendor's message. `down`: the channel itself is unusable
    (bad credentials, unreachable) - this run stops sending on it and the rows stay pending.
    `stale_token`: the access token expired or was revoked - fetch a new one and resend.
    Otherwise transient: retried with backoff (`retry_after` seconds when the vendor says)."""

    def __init__(self, message: str, *, never: bool = False, down: bool = False, stale_token: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.never = never
        self.down = down
        self.stale_token = stale_token
        self.retry_after = retry_after


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every configured secret (and any access_token/key/sign query value) blanked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _QUERY_SECRET.sub(r"\1=***", text)


_QUERY_SECRET = re.compile(r"\b(access_token|corpsecret|appsecret|key|sign|token|secret)=[^&\s\"']+", re.I)


class _ScrubQueries(logging.Filter):
    """httpx logs every request URL at INFO; the vendors put tokens and secrets in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(scrub(str(a), ()) if isinstance(a, str) or hasattr(a, "query") else a
                                for a in (record.args if isinstance(record.args, tuple) else (record.args,)))
        record.msg = scrub(str(record.msg), ())
        return True


def guard_http_logs() -> None:
    """Install the query scrubber on httpx's and httpcore's loggers (idempotent)."""
    for name in ("httpx", "httpcore"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _ScrubQueries) for f in log.filters):
            log.addFilter(_ScrubQueries())
