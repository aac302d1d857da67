"""The thread pool a worker process runs the form's blocking work in (SQLAlchemy, evidence files).

Handlers are sync code; a worker executes Python on one core under one interpreter lock, so more threads
than a few only queue for that lock, and a writer holding SQLite's write queue waits for it too (each wait
up to the 5 ms switch interval): with anyio's default of 40 threads the slowest 销号 took over a second
under load. RECTIFY_WEB_THREADS sets the size (default 2); FastAPI's sync endpoints get the same number
from anyio (web.app), the hottest requests (web.routes_hot) and the form's sign-in check use this pool.
Two, not four (stop 29, bench/form_load.py, the settings alternated): with four, each PostgreSQL round
trip's return waited for the interpreter lock behind three other threads and the event loop, and the flow's
p99 (page and 销号) was 107-136 ms against 87-100 ms with two; two still overlap one request's database wait
with another's Python.

Why a second pool at all: Starlette's run_in_threadpool goes through anyio (a capacity limiter, a cancel
scope, a handshake with the worker thread), ~0.3 ms of CPU per hop measured in process, where asyncio's own
executor takes ~0.1 ms; the finding page hops once and a 销号 twice, on a request that costs ~1.5 ms.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

REQUEST_THREADS = max(1, int(os.environ.get("RECTIFY_WEB_THREADS", "2")))

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="rectify-web")
    return _pool


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in the pool; its exception, if any, raised here (the app's handlers word it)."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), functools.partial(fn, *args))
