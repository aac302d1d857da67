"""The vendors' HTTP client: httpx for everything, with the per-row sends on a lean keep-alive path.

Why: a daily run sends one request per person and channel (thousands), and on loopback-fast peers httpx
costs about 1.6 ms of CPU per request even straight through its transport (docs/channels.md, Cost) - as
much as sending a letter by SMTP. The vendors' send APIs need little: a POST of JSON (or the SMS gateway's
template) with the token in the query, an answer of JSON, no cookies, no redirects, no proxy (the clients
are built with trust_env=False). `send` hands such a request to the client's LeanClient
(rectify/channels/lean.py: the same timeouts, TLS context and keep-alive, httpx's exceptions). Anything else
(gettoken, getsendresult, robots), a request the lean client would not write faithfully, and any client
that is not a VendorClient with a lean path (a test's, a caller's, one with a custom transport) goes
through httpx as usual.
"""

from __future__ import annotations

from typing import Any

import httpx

from rectify.channels.lean import Answer, LeanClient


class VendorClient(httpx.AsyncClient):
    """An AsyncClient with a lean path for `send` (None: httpx only)."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: float, lean: LeanClient | None = None,
                 **kwargs: Any) -> None:
        super().__init__(transport=transport, timeout=timeout, **kwargs)
        self.lean = lean

    async def aclose(self) -> None:
        if self.lean is not None:
            self.lean.close()
        await super().aclose()


async def send(http: httpx.AsyncClient, method: str, url: str, *, params: dict[str, str] | None = None,
               json: Any = None, content: bytes | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response | Answer:
    """One vendor request, its answer read (status_code, headers.get, json(): what the answer readers use)."""
    lean = http.lean if isinstance(http, VendorClient) else None
    prepared = lean.prepare(method, url, params, json, content, headers) if lean is not None else None
    if prepared is None:
        return await http.request(method, url, params=params, json=json, content=content, headers=headers)
    origin, head, body = prepared
    return await origin.request(head, body)
