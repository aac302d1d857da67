"""Access tokens cached per app until shortly before they expire, fetched once however many sends wait.

企业微信 and 钉钉 both issue a token valid for `expires_in` seconds (7200) and ask callers to cache it:
gettoken is rate-limited and a token is shared by every send. A send answered "token expired/invalid"
invalidates the cached one (only if it is still the one that failed), so the next send fetches anew.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

MARGIN = 300.0  # seconds: refresh this long before the vendor's expiry


class TokenCache:
    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times a token was fetched (tests, summaries)

    async def get(self) -> str:
        token = self._token
        if token is not None and self._clock() < self._expires:
            return token  # the usual case, without the lock (one event loop: nothing runs in between)
        async with self._lock:
            if self._token is None or self._clock() >= self._expires:
                token, lifetime = await self._fetch()
                self.fetches += 1
                self._token = token
                self._expires = self._clock() + max(float(lifetime) - MARGIN, min(float(lifetime), 60.0) / 2)
            return self._token

    def invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = None
