"""Where one form request's CPU goes, without HTTP: the finding page and its 销号 through the whole ASGI
app (middleware, routing, session, queries, template), in this process, timed and optionally profiled.

bench/form_load.py measures throughput through sockets and processes; this isolates the app's own cost
per request (what a worker spends besides uvicorn's parsing), so a change can be judged in seconds.

    .venv/bin/python bench/form_profile.py [--backend sqlite|postgresql] [--n 400] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import sys
import tempfile
import time
from concurrent.futures import Executor, Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.form_load import SECRET, seed  # noqa: E402

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(rb'name="version" value="(\d+)"')


class Driver:
    """Calls the ASGI app directly: a request is a scope, a body and the messages the app sends."""

    def __init__(self, app) -> None:
        self.app, self.cookie = app, b""

    async def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
        target, _, query = path.partition("?")
        headers = [(b"host", b"127.0.0.1:8000")]
        if self.cookie:
            headers.append((b"cookie", self.cookie))
        if body:
            headers += [(b"content-type", b"application/x-www-form-urlencoded"),
                        (b"content-length", str(len(body)).encode())]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": target, "raw_path": target.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
                 "state": {}}
        sent = [False]
        out: dict[str, object] = {"body": b""}

        async def receive():
            if sent[0]:
                await asyncio.sleep(3600)
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                out["status"], out["headers"] = message["status"], dict(message["headers"])
            else:
                out["body"] += message.get("body", b"")  # type: ignore[operator]

        await self.app(scope, receive, send)
        headers_out = out["headers"]
        for name, value in headers_out.items():  # type: ignore[union-attr]
            if name == b"set-cookie" and value.startswith(b"rectify_session="):
                self.cookie = value.split(b";")[0]
        return out["status"], headers_out, out["body"]  # type: ignore[return-value]


async def sign_in(d: Driver, person_id: int) -> None:
    from rectify.links import sign

    token = sign(SECRET, person_id, now=datetime.now(UTC), max_age=timedelta(hours=1))
    status, _, page = await d.call("GET", f"/auth/{token}")
    csrf = CSRF.search(page)
    assert status == 200 and csrf, status
    status, _, _ = await d.call("POST", f"/auth/{token}", urlencode({"csrf_token": csrf[1].decode(),
                                                                     "next": "/findings"}).encode())
    assert status == 303, status


async def flow(d: Driver, ids: list[int]) -> tuple[float, float]:
    """View then close each finding; CPU seconds spent in views and in 销号."""
    view = verify = 0.0
    for fid in ids:
        t0 = time.process_time()
        status, _, page = await d.call("GET", f"/findings/{fid}")
        t1 = time.process_time()
        assert status == 200, status
        form = {"csrf_token": CSRF.search(page)[1].decode(), "version": VERSION.search(page)[1].decode(),
                "decision": "close", "note": "核实无误"}
        status, _, _ = await d.call("POST", f"/findings/{fid}/verify", urlencode(form).encode())
        t2 = time.process_time()
        assert status == 303, status
        view, verify = view + t1 - t0, verify + t2 - t1
    return view, verify


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--n", type=int, default=400, help="findings viewed and closed (after 50 to warm up)")
    ap.add_argument("--profile", action="store_true", help="print the top of a cProfile of the measured part")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rectify-profile-"))
    pg = None
    if args.backend == "sqlite":
        url = f"sqlite:///{tmp / 'rectify.db'}"
    else:
        from tests.support.pgserver import PgServer

        pg = PgServer().start()
        url = pg.create_database("rectify_profile")
    try:
        work = seed(url, 1, args.n + 50, 2000)
        os.environ.update(RECTIFY_DATA_DIR=str(tmp), RECTIFY_DATABASE_URL=url, RECTIFY_SECRET_KEY=SECRET,
                          RECTIFY_PUBLIC_URL="http://127.0.0.1:8000")
        os.environ.pop("RECTIFY_CONFIG", None)
        from web.app import from_settings

        app = from_settings()
        d = Driver(app)
        loop = asyncio.new_event_loop()
        person, ids = work[0]
        loop.run_until_complete(sign_in(d, person))
        loop.run_until_complete(flow(d, ids[:50]))
        prof = cProfile.Profile() if args.profile else None
        if prof:  # cProfile sees one thread: run the handlers' thread-pool work inline
            import anyio.to_thread

            import web.threads

            async def inline(func, *a, **_kw):
                return func(*a)

            class Inline(Executor):
                def submit(self, fn, /, *a, **kw):
                    done: Future = Future()
                    try:
                        done.set_result(fn(*a, **kw))
                    except BaseException as exc:
                        done.set_exception(exc)
                    return done

            anyio.to_thread.run_sync = inline
            web.threads._pool = Inline()  # type: ignore[assignment]
            prof.enable()
        chunks = [loop.run_until_complete(flow(d, ids[i:i + 25])) for i in range(50, len(ids), 25)]
        if prof:
            prof.disable()
        n = len(ids) - 50
        view, verify = sum(c[0] for c in chunks), sum(c[1] for c in chunks)
        # The machine is shared: the quietest run of 25 says more about the code than the mean does.
        quiet = min(chunks, key=sum)
        print(f"{args.backend}: CPU per request: page {view / n * 1000:.2f} ms, 销号 {verify / n * 1000:.2f} ms "
              f"(n={n}{', under cProfile' if prof else ''}); quietest 25: page {quiet[0] / 25 * 1000:.2f} ms, "
              f"销号 {quiet[1] / 25 * 1000:.2f} ms")
        if prof:
            stats = pstats.Stats(prof)
            stats.sort_stats("cumulative").print_stats(r"rectify|web/|models|templates", 60)
            stats.sort_stats("tottime").print_stats(30)
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
