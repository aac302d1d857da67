"""The vendors' HTTP client: httpx, with the per-row sends going straight to the connection pool.

Why: a daily run sends one request per person and channel (thousands), and on a busy machine httpx's client
layers - merging URL, params, default headers and cookies, the auth and redirect flows, the cookie jar
reading every answer, the request log line - cost about a third of each loopback request's CPU (measured
bare: docs/channels.md, Cost). The vendors' send APIs use none of them: a POST of JSON with the token in
the query, an answer of JSON, no cookies, no redirects. `send` builds the request and hands it to the
client's own transport (the same pool, keep-alive, TLS and timeouts; httpx's exceptions as usual). Anything
else (gettoken, getsendresult, robots) goes through the client normally.
"""

from __future__ import annotations

from typing import Any

import httpx


class VendorClient(httpx.AsyncClient):
    """An AsyncClient that keeps its transport at hand for `send`."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: float, **kwargs: Any) -> None:
        super().__init__(transport=transport, timeout=timeout, **kwargs)
        self.pool = transport
        self.timeouts = httpx.Timeout(timeout).as_dict()


async def send(http: httpx.AsyncClient, method: str, url: str, *, params: dict[str, str] | None = None,
               json: Any = None, content: bytes | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response:
    """One vendor request, its answer read. Straight to the pool for a VendorClient; any other client (a test's,
    a caller's) as usual."""
    if not isinstance(http, VendorClient):
        return await http.request(method, url, params=params, json=json, content=content, headers=headers)
    request = httpx.Request(method, url, params=params, json=json, content=content, headers=headers,
                            extensions={"timeout": http.timeouts})
    response = await http.pool.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response
