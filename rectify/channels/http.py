"""The vendors' HTTP client: every request on a lean keep-alive client, httpx only where that would not do.

Why: a daily run sends one request per person and channel (thousands), and on loopback-fast peers httpx
costs about 1.6 ms of CPU per request even straight through its transport (docs/channels.md, Cost) - as
much as sending a letter by SMTP; and merely importing it costs the forked sender ~0.1 s (it pulls in its
command line's rich, click and pygments). The vendors' APIs need little: a GET or a POST of JSON (or the
SMS gateway's template) with the token in the query, an answer of JSON, no cookies, no redirects, no proxy.
`send` hands such a request to the client's LeanClient (rectify/channels/lean.py: the same timeouts, TLS
context and keep-alive, httpx's exceptions, httpx's log lines).

- `Vendors` is the dispatcher's client: lean first; a request the lean client would not write faithfully
  goes through an httpx client made on first need (same timeout, TLS context and pool size, no
  environment proxies).
- `VendorClient` (built on first use) is an httpx.AsyncClient with a lean path, for callers that hold an
  httpx client anyway.
- Any other client (a test's, the demo's MockTransport one) goes through httpx as usual.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import TYPE_CHECKING, Any

from rectify.channels.lean import Answer, LeanClient

if TYPE_CHECKING:
    import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The vendors' TLS context, made once per process and only for an https vendor: httpx's default
    (httpx.create_ssl_context: SSL_CERT_FILE or SSL_CERT_DIR when set, certifi's bundle otherwise)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class Vendors:
    """One channel's client: a LeanClient whose origins keep up to `size` connections each, and an httpx
    client for the rest, made when first needed."""

    def __init__(self, timeout: float, size: int) -> None:
        self.timeout, self.size = timeout, size
        self.lean = LeanClient(tls_context, timeout, size)
        self._httpx: httpx.AsyncClient | None = None

    def fallback(self) -> httpx.AsyncClient:
        if self._httpx is None:
            import httpx

            limits = httpx.Limits(max_connections=self.size, max_keepalive_connections=self.size)
            self._httpx = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(verify=tls_context(), limits=limits),
                                            timeout=self.timeout, trust_env=False)
        return self._httpx

    async def aclose(self) -> None:
        self.lean.close()
        if self._httpx is not None:
            await self._httpx.aclose()


async def send(http: Any, method: str, url: str, *, params: dict[str, str] | None = None,
               json: Any = None, content: bytes | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response | Answer:
    """One vendor request, its answer read (status_code, headers.get, json(): what the answer readers use).
    `http`: Vendors, a VendorClient, or any httpx.AsyncClient."""
    lean = getattr(http, "lean", None)
    prepared = lean.prepare(method, url, params, json, content, headers) if lean is not None else None
    if prepared is not None:
        origin, head, body = prepared
        return await origin.request(head, body)
    client = http.fallback() if isinstance(http, Vendors) else http
    return await client.request(method, url, params=params, json=json, content=content, headers=headers)


@functools.cache
def _vendor_client() -> type:
    import httpx

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

    return VendorClient


def __getattr__(name: str) -> Any:
    if name == "VendorClient":  # built on first use: the class needs httpx, which the sender does without
        return _vendor_client()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
