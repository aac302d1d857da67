"""`create_app(rt)`: the form and the JSON API as one FastAPI app.

`rectify web` serves it alone; `rectify serve` runs it beside the schedules. Handlers read the time
from `app.state.clock` (default: rt.now), which tests replace to fix "now".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rectify.runtime import Runtime
from web.actions import Forbidden
from web.auth import CsrfFailed, SignInRequired
from web.limits import BodyLimit
from web.pages import error_page, warm_templates
from web.threads import REQUEST_THREADS

# For build_runtime(**ENGINE_KWARGS) wherever the app is served: one pooled connection per request thread
# (anyio's REQUEST_THREADS for FastAPI's sync endpoints and as many in web.threads), plus the calendar
# refresh's own. Past the pool, connections are opened and closed per request, which on PostgreSQL forks a
# server process each time; a pool far larger than the threads only holds PostgreSQL backends
# (`rectify web --workers N` opens up to N × (pool_size + max_overflow)).
ENGINE_KWARGS = {"pool_size": 2 * REQUEST_THREADS + 2, "max_overflow": 2}

STATIC = Path(__file__).resolve().parent / "static"

# No inline script or style anywhere: every asset is a file under /static.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


_OURS = {key.lower().encode() for key in SECURITY_HEADERS} | {b"cache-control"}
_RAW = [(key.lower().encode(), value.encode()) for key, value in SECURITY_HEADERS.items()]
_STATIC_HEADERS = [*_RAW, (b"cache-control", b"public, max-age=3600")]
_PAGE_HEADERS = [*_RAW, (b"cache-control", b"no-store")]


class SecurityHeaders:
    """Pure ASGI (no BaseHTTPMiddleware): headers on every response, no-store on all but static files.
    They replace any the app set under the same names; the encoded list is built once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = _STATIC_HEADERS if scope["path"].startswith("/static/") else _PAGE_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", ()) if h[0].lower() not in _OURS]
                message = {**message, "headers": kept + ours}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WriterQueue:
    """A lock for this process's threads and, through flock on a file beside the database, for the other
    worker processes of `rectify web --workers N`: writers queue here instead of meeting SQLite's busy
    handler, whose sleeps (up to 100 ms each) made the slowest 销号 take seconds under load."""

    def __init__(self, path: Path) -> None:
        self._thread = threading.Lock()
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> WriterQueue:
        self._thread.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            assert self._fd is not None
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()


def write_lock(rt: Runtime) -> AbstractContextManager[object]:
    """SQLite allows one writer: queue the form's writers (every thread of every worker process). Other
    programs (the daily run) still wait on the busy timeout. PostgreSQL needs no lock."""
    if rt.engine.dialect.name != "sqlite":
        return nullcontext()
    database = rt.engine.url.database
    if not database or database == ":memory:":
        return threading.Lock()
    return WriterQueue(Path(database).with_name(Path(database).name + ".writers"))


def from_settings() -> FastAPI:
    """The app for one worker process of `rectify web --workers N` (uvicorn's factory): each builds its own
    runtime from the same settings (the config file and RECTIFY_* variables it inherits)."""
    from rectify.memory import settle_for_serving
    from rectify.runtime import build_runtime
    from web.server import install_log_redaction, protocol_class

    rt = build_runtime(**ENGINE_KWARGS)
    protocol_class().header_timeout = rt.settings.web.header_timeout
    install_log_redaction()
    app = create_app(rt)
    settle_for_serving()  # start-up's objects out of the collector's walks (a full one stalled every request)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


@contextlib.asynccontextmanager
async def _threads(app: FastAPI) -> AsyncIterator[None]:
    """anyio's request thread pool sized like web.threads' (REQUEST_THREADS), set on the serving event loop."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
    yield


class _App(FastAPI):
    """SecurityHeaders outside Starlette's ServerErrorMiddleware, so a 500 carries the headers too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(rt: Runtime, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    from web import (
        routes_api,
        routes_api_followup,
        routes_auth,
        routes_docs,
        routes_findings,
        routes_followup,
        routes_hot,
        routes_practice,
        routes_status,
    )

    app = _App(
        title="Rectify 整改督办 API",
        version="1",
        description=routes_docs.API_DESCRIPTION,
        docs_url=None,  # FastAPI's Swagger/ReDoc pages load from a CDN; /docs is served locally instead
        redoc_url=None,
        openapi_url=None,  # served by routes_docs, behind sign-in unless web.public_docs
        lifespan=_threads,
    )
    app.state.rt = rt
    app.state.clock = clock or rt.now
    app.state.write_lock = write_lock(rt)
    # Load the calendar (imported notices) now, not inside the first request; if the database is still
    # starting, the first request retries.
    with contextlib.suppress(Exception):
        rt.refresh_calendar()
    warm_templates()
    app.add_middleware(BodyLimit, max_upload_mib=rt.settings.web.max_upload_mib)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # The finding page and its 销号 first: plain Starlette routes, matched before anything else.
    app.router.routes[:0] = routes_hot.ROUTES
    for module in (routes_auth, routes_findings, routes_practice, routes_followup, routes_status, routes_api,
                   routes_api_followup, routes_docs):
        app.include_router(module.router)
    from web import routes_cockpit, routes_ranking_api  # 驾驶舱 and /api/ranking (考评)

    for extra in (routes_cockpit, routes_ranking_api):
        app.include_router(extra.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import urlencode

        return RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        if _is_api(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        return error_page(request, "csrf", 403)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        return error_page(request, "forbidden", 403)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return JSONResponse({"error": "not_found" if exc.status_code == 404 else "http_error"},
                                status_code=exc.status_code)
        kind = {404: "not_found", 405: "bad_request", 413: "too_large"}.get(exc.status_code, "bad_request")
        return error_page(request, kind, exc.status_code, max_mib=rt.settings.web.max_upload_mib)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            fields = [".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()]
            return JSONResponse({"error": "invalid", "fields": fields}, status_code=422)
        return error_page(request, "bad_request", 400)

    return app
