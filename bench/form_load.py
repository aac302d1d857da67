"""Load on the form: 50 supervisors at once, each opening a finding and closing it (销号), over loopback.

Starts `rectify web --workers N` in its own processes (as in production) on SQLite and on PostgreSQL (a
throwaway server from tests/support/pgserver), seeds a county, signs every client in through a mail
link (GET the confirmation page, POST its button), then runs closed-loop clients. Two mixes:

- flow: GET /findings/{id}, read the CSRF token and version from the page, POST the verify form (销号);
- read: GET /findings/{id} only (supervisors reading), the same number of requests.

and per pass a think time:

- think 0: no pause at all, 50 requests always in flight: the saturation throughput. Latency here is
  queueing (Little's law: latency ~ clients / throughput), not the time one request takes.
- think 1: each client pauses ~1 s (0.5-1.5 s) between page and click, as a person reading does.

The clients share the machine's cores with the server, so they are lean (bench/lean_http.py: raw
asyncio streams, ~0.1 ms CPU per request where httpx took ~1 ms) and the bench prints what they cost:
CPU ms per request of the client process and of the server processes (from /proc), beside the load
average. `--reference` adds the bare floor in the same run: a plain ASGI app (bench/form_reference.py:
one query on the same database, SQLite or PostgreSQL, and a page of the same size, no framework) under
the same uvicorn and workers.

    .venv/bin/python bench/form_load.py [--backend sqlite|postgresql|both] [--clients 50] [--rounds 20]
        [--think 0,1] [--mix flow,read] [--workers N] [--reference]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lean_http import LeanClient  # noqa: E402
from models import Finding, Person, Round, SupervisionGroup, Unit  # noqa: E402
from rectify.db import make_engine, migrate, session_factory  # noqa: E402
from rectify.links import sign  # noqa: E402

SECRET = secrets.token_urlsafe(48)  # strong enough for rectify (issue 13.1), new each run
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(rb'name="version" value="(\d+)"')
COOKIE = "rectify_session"


@dataclass
class Timings:
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)

    def fail(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str, clients: int, rounds: int, background: int) -> list[tuple[int, list[int]]]:
    """43 units, 4 groups of supervisors; each client gets its own reported findings to close, plus
    `background` other findings so the list and the indexes are not trivially small."""
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    today = datetime.now(UTC).date()
    work: list[tuple[int, list[int]]] = []
    with sessions() as s, s.begin():
        rnd = Round(name="基准测试轮次", started_on=today - timedelta(days=30))
        s.add(rnd)
        groups = [SupervisionGroup(name=f"第{n}督导组") for n in "一二三四"]
        units = [Unit(name=f"县直单位{i:02d}", kind="county", sort_order=i) for i in range(43)]
        s.add_all(groups + units)
        s.flush()
        n = 0

        def finding(unit: Unit, group: SupervisionGroup, state: str) -> Finding:
            nonlocal n
            n += 1
            f = Finding(code=f"B-{n:06d}", round_id=rnd.id, group_id=group.id, unit_id=unit.id,
                        inspected_on=today - timedelta(days=20), problem=f"第{n}项问题：行政执法公示信息未及时更新",
                        problem_key=f"{n:064d}", opinion="限期整改", deadline_kind="fixed",
                        due_date=today + timedelta(days=n % 15 - 7), state=state,
                        measures="已整改" if state != "open" else "", progress="已完成" if state != "open" else "")
            s.add(f)
            return f

        for i in range(background):
            finding(units[i % 43], groups[i % 4], ("open", "reported", "closed", "rejected")[i % 4])
        for c in range(clients):
            group = groups[c % 4]
            person = Person(name=f"督导员{c}", email=f"sup{c}@bench.example", role="supervisor", group_id=group.id)
            s.add(person)
            mine = [finding(units[(c + k) % 43], group, "reported") for k in range(rounds)]
            s.flush()
            work.append((person.id, [f.id for f in mine]))
    engine.dispose()
    return work


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/signin", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def start_server(command: list[str], env: dict[str, str], data_dir: Path, port: int,
                 workers: int = 0) -> subprocess.Popen[bytes]:
    """The server, once it answers and (`workers`) that many of its workers logged their start: a pass begun
    while one worker is still loading would put every client on the others."""
    path = data_dir / "server.log"
    start = path.stat().st_size if path.exists() else 0
    log = path.open("ab")
    proc = subprocess.Popen(command, cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {path.read_text()[-2000:]}")
        if _ready(port) and path.read_bytes()[start:].count(b"Application startup complete") >= workers:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def rectify_web(url: str, data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RECTIFY_DATA_DIR": str(data_dir), "RECTIFY_DATABASE_URL": url,
           "RECTIFY_SECRET_KEY": SECRET, "RECTIFY_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("RECTIFY_CONFIG", None)
    return start_server([sys.executable, "-m", "rectify", "web", "--host", "127.0.0.1", "--port", str(port),
                         "--workers", str(workers)], env, data_dir, port, workers)


def reference_web(url: str, data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """bench/form_reference.py under plain uvicorn, same workers, same loop and HTTP parser as rectify web."""
    target = url.removeprefix("sqlite:///").replace("postgresql+psycopg://", "postgresql://", 1)
    env = {**os.environ, "FORM_REFERENCE_DB": target}
    return start_server([sys.executable, "-m", "uvicorn", "form_reference:app", "--app-dir", str(ROOT / "bench"),
                         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                         "--log-level", "warning", "--no-access-log"], env, data_dir, port)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process and all its descendants, live or reaped (the uvicorn supervisor and
    its workers; PostgreSQL's postmaster and its backends)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    if pid is None:
        return total
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(v) for v in fields[11:15]) / tick
        for child in _children(pid):
            total += cpu_seconds(child)
    except (OSError, IndexError, ValueError):
        pass
    return total


async def sign_in(c: LeanClient, person_id: int) -> None:
    """The mail link as a browser follows it: the confirmation page, then its button (issue 13.7)."""
    token = sign(SECRET, person_id, now=datetime.now(UTC), max_age=timedelta(hours=1))
    page = await c.get(f"/auth/{token}")
    csrf = CSRF.search(page.body)
    assert page.status == 200 and csrf is not None, page.status
    r = await c.post_form(f"/auth/{token}", {"csrf_token": csrf[1].decode(), "next": "/findings"})
    assert r.status == 303 and c.cookie, r.status


async def one_client(c: LeanClient, person_id: int | None, finding_ids: list[int], timings: Timings,
                     think: float, mix: str) -> None:
    pause = random.Random(person_id)
    if think:  # people do not all click in the same millisecond
        await asyncio.sleep(pause.uniform(0, 2 * think))
    clock = time.perf_counter
    for fid in finding_ids:
        for _ in range(2 if mix == "read" else 1):
            if think:
                await asyncio.sleep(think * pause.uniform(0.5, 1.5))
            t0 = clock()
            page = await c.get(f"/findings/{fid}")
            timings.add("view", clock() - t0)
            if page.status != 200:
                timings.fail("view")
        if mix == "read":
            continue
        csrf, version = CSRF.search(page.body), VERSION.search(page.body)
        if csrf is None or version is None:
            timings.fail("view")
            continue
        if think:
            await asyncio.sleep(think * pause.uniform(0.5, 1.5))
        t0 = clock()
        form = {"csrf_token": csrf[1].decode(), "version": version[1].decode(), "decision": "close", "note": "核实无误"}
        r = await c.post_form(f"/findings/{fid}/verify", form)
        timings.add("verify", clock() - t0)
        if r.status != 303:
            timings.fail("verify")
    await c.close()


@dataclass
class Pass:
    timings: Timings
    wall: float
    client_cpu: float
    server_cpu: float
    db_cpu: float = 0.0
    workers_cpu: list[float] = field(default_factory=list)  # CPU seconds of each worker process, most first


def postmaster_pid(pg: object | None) -> int | None:
    """PostgreSQL's server process (its backends are its children), from postmaster.pid."""
    if pg is None:
        return None
    return int((pg.data / "postmaster.pid").read_text().split()[0])  # type: ignore[attr-defined]


async def drive(port: int, server_pid: int, work: list[tuple[int | None, list[int]]], think: float,
                mix: str, db_pid: int | None = None) -> Pass:
    timings = Timings()
    clients = [LeanClient("127.0.0.1", port, COOKIE) for _ in work]
    await asyncio.gather(*(sign_in(c, pid) for c, (pid, _) in zip(clients, work, strict=True) if pid is not None))
    kids = {k: cpu_seconds(k) for k in _children(server_pid)}
    c0, s0, d0, t0 = time.process_time(), cpu_seconds(server_pid), cpu_seconds(db_pid), time.perf_counter()
    await asyncio.gather(*(one_client(c, pid, fids, timings, think, mix)
                           for c, (pid, fids) in zip(clients, work, strict=True)))
    wall = time.perf_counter() - t0
    split = sorted((cpu_seconds(k) - v for k, v in kids.items()), reverse=True)
    return Pass(timings, wall, time.process_time() - c0, cpu_seconds(server_pid) - s0, cpu_seconds(db_pid) - d0,
                [c for c in split if c >= 0.05])


def _children(pid: int) -> list[int]:
    """The server's child processes (its workers; an idle helper such as multiprocessing's resource tracker is
    left out of the split by its CPU)."""
    try:
        return [int(k) for task in Path(f"/proc/{pid}/task").iterdir() for k in (task / "children").read_text().split()]
    except OSError:
        return []


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_passes(label: str, port: int, server: subprocess.Popen[bytes], work: list[tuple[int | None, list[int]]],
               rounds: int, thinks: list[float], mixes: list[str], clients: int, background: int,
               db_pid: int | None = None) -> None:
    n = 0
    for mix in mixes:
        for think in thinks:
            chunk = [(pid, fids[n * rounds:(n + 1) * rounds]) for pid, fids in work]
            n += 1
            loop = _event_loop()
            try:
                result = loop.run_until_complete(drive(port, server.pid, chunk, think, mix, db_pid))
            finally:
                loop.close()
            report(label, mix, clients, rounds, background, think, result)


def run(backend: str, clients: int, rounds: int, background: int, thinks: list[float], mixes: list[str],
        workers: int, reference: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"rectify-bench-{backend}-"))
    pg = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'rectify.db'}"
    else:
        from tests.support.pgserver import PgServer

        pg = PgServer().start()
        url = pg.create_database("rectify_bench")
    passes = len(thinks) * len(mixes)
    try:
        work = seed(url, clients, rounds * passes * (2 if reference else 1), background)
        port = _free_port()
        server = rectify_web(url, tmp, port, workers)
        try:
            run_passes(f"{backend}, rectify web --workers {workers}", port, server,
                       [(pid, fids[:rounds * passes]) for pid, fids in work],
                       rounds, thinks, mixes, clients, background, postmaster_pid(pg))
        finally:
            server.terminate()
            server.wait(timeout=10)
        if reference:
            port = _free_port()
            server = reference_web(url, tmp, port, workers)
            try:
                run_passes(f"bare reference (bench/form_reference.py, {backend}), {workers} workers", port, server,
                           [(None, fids[rounds * passes:]) for _, fids in work],
                           rounds, thinks, mixes, clients, background, postmaster_pid(pg))
            finally:
                server.terminate()
                server.wait(timeout=10)
    finally:
        if pg is not None:
            pg.stop()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(label: str, mix: str, clients: int, rounds: int, background: int, think: float, r: Pass) -> None:
    every = [t for ts in r.timings.by_kind.values() for t in ts]
    n = len(every)
    print(f"\n{label}, {mix} mix, think {think:g} s: {clients} clients x {rounds}, {background} other findings: "
          f"{n} requests in {r.wall:.1f} s -> {n / r.wall:.0f} requests/s")
    db = f", PostgreSQL {r.db_cpu / n * 1000:.2f} ms" if r.db_cpu else ""
    print(f"  CPU per request: server {r.server_cpu / n * 1000:.2f} ms{db}, client {r.client_cpu / n * 1000:.2f} ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if len(r.workers_cpu) > 1:  # how evenly the connections landed (web/workers.py)
        print(f"  the workers' CPU: {' / '.join(f'{c:.2f}' for c in r.workers_cpu)} s")
    print(f"  {'kind':<8}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'mean ms':>10}")
    for kind, ts in [*r.timings.by_kind.items(), ("all", every)]:
        print(f"  {kind:<8}{len(ts):>6}{pct(ts, 50) * 1000:>10.1f}{pct(ts, 99) * 1000:>10.1f}"
              f"{max(ts) * 1000:>10.1f}{statistics.mean(ts) * 1000:>10.1f}")
    if r.timings.errors:
        print(f"  errors: {r.timings.errors}")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=20, help="findings each client views (and closes) per pass")
    ap.add_argument("--background", type=int, default=2000, help="other findings in the database")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rectify web --workers")
    ap.add_argument("--think", default="0,1", help="comma-separated mean pauses (s) between requests, one pass each")
    ap.add_argument("--mix", default="flow,read", help="comma-separated: flow (view + verify), read (views only)")
    ap.add_argument("--reference", action="store_true", help="also the bare reference app, same database, same passes")
    args = ap.parse_args()
    thinks = [float(t) for t in args.think.split(",")]
    mixes = [m for m in args.mix.split(",") if m in ("flow", "read")]
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the clients share them)")
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args.clients, args.rounds, args.background, thinks, mixes, args.workers, args.reference)


if __name__ == "__main__":
    main()
