"""Load on the form: 50 supervisors at once, each opening a finding and closing it (销号), over loopback.

Starts `rectify web` in a separate process (the server gets its own interpreter, as in production)
on SQLite and on PostgreSQL (a throwaway server from tests/support/pgserver), seeds a county, signs
every client in through a mail link, then runs closed-loop clients: each one GETs /findings/{id},
reads the CSRF token and version from the page, and POSTs the verify form. Two passes per backend:

- think 0: no pause at all, 50 requests always in flight: the saturation throughput. Latency here is
  queueing (Little's law: latency ~ clients / throughput), not the time one request takes.
- think 1: 50 supervisors working at once, each pausing ~1 s (0.5-1.5 s) between page and click, as a
  person reading the page does: the latency people feel, which the 150 ms p99 target is about.

Prints requests per second and p50/p99 latency per request kind.

    .venv/bin/python bench/form_load.py [--backend sqlite|postgresql|both] [--clients 50] [--rounds 20]
        [--think 0,1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models import Finding, Person, Round, SupervisionGroup, Unit  # noqa: E402
from rectify.db import make_engine, migrate, session_factory  # noqa: E402
from rectify.links import sign  # noqa: E402

SECRET = "bench-secret-" + "y" * 32
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


@dataclass
class Timings:
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)


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


def start_server(url: str, data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RECTIFY_DATA_DIR": str(data_dir), "RECTIFY_DATABASE_URL": url,
           "RECTIFY_SECRET_KEY": SECRET, "RECTIFY_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "RECTIFY_CONFIG": ""}
    env.pop("RECTIFY_CONFIG")
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "rectify", "web", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers)],
                            cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(data_dir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/signin", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


async def one_client(base: str, person_id: int, finding_ids: list[int], timings: Timings,
                     start: asyncio.Event, think: float) -> None:
    token = sign(SECRET, person_id, now=datetime.now(UTC), max_age=timedelta(hours=1))
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, follow_redirects=False, limits=limits, timeout=30) as c:
        r = await c.get(f"/auth/{token}")
        assert r.status_code == 303, r.status_code
        await start.wait()
        pause = random.Random(person_id)
        if think:  # people do not all click in the same millisecond
            await asyncio.sleep(pause.uniform(0, 2 * think))
        for fid in finding_ids:
            if think:
                await asyncio.sleep(think * pause.uniform(0.5, 1.5))
            t0 = time.perf_counter()
            page = await c.get(f"/findings/{fid}")
            timings.add("view", time.perf_counter() - t0)
            csrf, version = CSRF.search(page.text), VERSION.search(page.text)
            if page.status_code != 200 or csrf is None or version is None:
                timings.errors["view"] = timings.errors.get("view", 0) + 1
                continue
            if think:
                await asyncio.sleep(think * pause.uniform(0.5, 1.5))
            t0 = time.perf_counter()
            form = {"csrf_token": csrf[1], "version": version[1], "decision": "close", "note": "核实无误"}
            r = await c.post(f"/findings/{fid}/verify", data=form)
            timings.add("verify", time.perf_counter() - t0)
            if r.status_code != 303:
                timings.errors["verify"] = timings.errors.get("verify", 0) + 1


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(base: str, work: list[tuple[int, list[int]]], think: float) -> tuple[Timings, float]:
    timings = Timings()
    start = asyncio.Event()
    tasks = [asyncio.create_task(one_client(base, pid, fids, timings, start, think)) for pid, fids in work]
    await asyncio.sleep(0.5)  # let every client sign in first
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return timings, time.perf_counter() - t0


def run(backend: str, clients: int, rounds: int, background: int, thinks: list[float], workers: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"rectify-bench-{backend}-"))
    pg = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'rectify.db'}"
    else:
        from tests.support.pgserver import PgServer

        pg = PgServer().start()
        url = pg.create_database("rectify_bench")
    try:
        work = seed(url, clients, rounds * len(thinks), background)
        port = _free_port()
        server = start_server(url, tmp, port, workers)
        try:
            for n, think in enumerate(thinks):
                chunk = [(pid, fids[n * rounds:(n + 1) * rounds]) for pid, fids in work]
                timings, wall = asyncio.run(drive(f"http://127.0.0.1:{port}", chunk, think))
                report(f"{backend}, {workers} worker(s)", clients, rounds, background, think, timings, wall)
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        if pg is not None:
            pg.stop()


def report(backend: str, clients: int, rounds: int, background: int, think: float, timings: Timings,
           wall: float) -> None:
    every = [t for ts in timings.by_kind.values() for t in ts]
    print(f"\n{backend}, think {think:g} s: {clients} clients x {rounds} (view + verify), {background} other "
          f"findings: {len(every)} requests in {wall:.1f} s -> {len(every) / wall:.0f} requests/s")
    print(f"  {'kind':<8}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'mean ms':>10}")
    for kind, ts in [*timings.by_kind.items(), ("all", every)]:
        print(f"  {kind:<8}{len(ts):>6}{pct(ts, 50) * 1000:>10.1f}{pct(ts, 99) * 1000:>10.1f}"
              f"{max(ts) * 1000:>10.1f}{statistics.mean(ts) * 1000:>10.1f}")
    if timings.errors:
        print(f"  errors: {timings.errors}")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=20, help="findings each client views and closes")
    ap.add_argument("--background", type=int, default=2000, help="other findings in the database")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rectify web --workers")
    ap.add_argument("--think", default="0,1", help="comma-separated mean pauses (s) between requests, one pass each")
    args = ap.parse_args()
    thinks = [float(t) for t in args.think.split(",")]
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args.clients, args.rounds, args.background, thinks, args.workers)
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the clients share them)")


if __name__ == "__main__":
    main()
