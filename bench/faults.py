"""Bench: the kill matrix. A daily run is killed or interrupted at each phase, then run again at once;
an SMTP sink counts what arrived. Prints, per scenario: letters expected, delivered, duplicates, lost.

    .venv/bin/python bench/faults.py [--findings 2000] [--db sqlite postgresql]

The county is bench/daily_run.py's synthetic one in catch-up mode (every level 0, so a first day with
many escalations, 督办通知 and letters). Each scenario starts from a copy of the same database:
- plan:     SIGKILL as soon as the plan is made (nothing written yet)
- notices:  SIGKILL at the COMMIT of the 督办通知 transaction (DOCX files written, rows not committed)
- commit:   SIGKILL at the COMMIT of the day's transaction
- mid-send: SIGKILL from the SMTP server after it accepted the 40th letter
- SIGINT / SIGTERM: sent by the SMTP server after the 40th letter to the run process (as Ctrl+C or
            `kill` would reach the process that runs the flow)
- serve SIGTERM: `rectify serve` (its own Prefect server) runs daily-reminders, triggered through the Prefect
            API; the SMTP server sends SIGTERM to `serve` itself after the 40th letter
- pg restart: (PostgreSQL only) `pg_ctl restart -m immediate` after the 40th letter
"Expected" is the number of letters of an undisturbed run of the same day; "delivered" counts distinct
recipients that got their letter, "duplicates" the extra copies. Runs are child processes; the sink runs
here. The figures are what one run printed; the table in docs/daily-run.md comes from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from daily_run import NOW, OFFICE, TODAY, build  # noqa: E402

KILL_AT = 40  # the letter after which the SMTP server kills or interrupts the sender
SCENARIOS = ("plan", "notices", "commit", "mid-send", "SIGINT", "SIGTERM", "serve SIGTERM", "pg restart")
RECTIFY = str(Path(sys.executable).with_name("rectify"))


# ------------------------------------------------------------------ the run (a child process)


def child(env_json: str, fault: str) -> None:
    """One daily run; with a phase fault it kills itself at that phase."""
    os.environ.update(json.loads(env_json))
    from sqlalchemy import event

    from rectify.runtime import build_runtime
    from rectify.services import daily

    rt = build_runtime()
    phase = {"now": ""}

    def at_commit(conn) -> None:
        if phase["now"] == fault:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(rt.engine, "commit", at_commit)

    def step(name, fn):
        def wrapper(*a):
            phase["now"] = name
            out = fn(*a)
            if name == fault == "plan":
                os.kill(os.getpid(), signal.SIGKILL)
            phase["now"] = ""
            return out
        return wrapper

    steps = daily.Steps(step("plan", daily.plan_day), daily.render_letters, step("commit", daily.commit_day),
                        daily.deliver, issue=step("notices", daily.issue_day_notices))
    try:
        report = daily.run_daily(rt, TODAY, NOW, steps=steps)
    except KeyboardInterrupt as exc:  # SendInterrupted: the graceful stop
        print("STOPPED " + str(exc), flush=True)
        sys.exit(getattr(exc, "exit_code", 130))
    finally:
        rt.close()
    print("RESULT " + json.dumps({"messages": report.messages, "sent": report.sent}), flush=True)


# ------------------------------------------------------------------ the sink and the matrix (here)


class Sink:
    """aiosmtpd on a free port, counting letters per recipient; may act on the sender at letter N."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from rectify.serving import free_port

        self.port = free_port()
        self.got: Counter[str] = Counter()
        self.total = 0
        self.act = None
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                for rcpt in envelope.rcpt_tos:
                    sink.got[rcpt.lower()] += 1
                sink.total += 1
                if sink.total == KILL_AT and sink.act is not None:
                    threading.Thread(target=sink.act, daemon=True).start()  # a restart takes seconds
                await asyncio.sleep(0.002)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def reset(self) -> None:
        self.got.clear()
        self.total = 0
        self.act = None

    def stop(self) -> None:
        self.controller.stop()


def _api(url: str, path: str, body: dict | None = None):
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body or {}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def _serve(env: dict, sink: Sink) -> int:
    """`rectify serve`, the day triggered through its Prefect API, SIGTERM to serve at letter KILL_AT."""
    from rectify.serving import free_port

    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RECTIFY_"))}, **env,
           "RECTIFY_SCHEDULE__PREFECT_PORT": "0", "RECTIFY_WEB__PORT": str(free_port()),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    proc = subprocess.Popen([RECTIFY, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        for line in proc.stdout:
            if "Press Ctrl+C to stop." in line:
                break
        api = json.loads((Path(env["RECTIFY_DATA_DIR"]) / "prefect" / "server.json").read_text())["api_url"]
        daily = next(d for d in _api(api, "/deployments/filter") if d["name"] == "daily-reminders")
        sink.act = lambda: os.kill(proc.pid, signal.SIGTERM)
        _api(api, f"/deployments/{daily['id']}/create_flow_run",
             {"parameters": {"as_of": TODAY.isoformat(), "now": NOW.isoformat()}})
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sink.act = None
    if "Traceback" in out:
        print(out[-3000:], flush=True)
    return proc.returncode


def _run(env: dict, fault: str, sink: Sink, pg=None) -> int:
    if fault == "serve SIGTERM":
        return _serve(env, sink)
    restart = fault == "pg restart"
    if restart:
        sink.act = pg.restart
        fault = "none"
    proc = subprocess.Popen([sys.executable, __file__, "_child", json.dumps(env), fault],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    signals = {"mid-send": signal.SIGKILL, "SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
    if fault in signals:
        sink.act = lambda: os.kill(proc.pid, signals[fault])
    out, err = proc.communicate(timeout=900)
    sink.act = None
    if "Traceback" in err:
        print(err[-3000:], flush=True)
    if fault == "none" and proc.returncode and not restart:
        sys.exit(f"run failed ({proc.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
    return proc.returncode


class Databases:
    """A built template per backend and a fresh copy of it per scenario."""

    def __init__(self, work: Path, findings: int) -> None:
        self.work, self.findings, self.pg, self.n = work, findings, None, 0

    def template(self, db: str) -> str:
        if db == "sqlite":
            url = f"sqlite:///{self.work / 'template.db'}"
        else:
            from tests.support.pgserver import PgServer

            # Durable, as in production: with fsync and synchronous_commit off a restart forgets marks the
            # server had acknowledged, and counts those as the sender's duplicates (tests/test_pg_restart.py).
            self.pg = self.pg or PgServer(durable=True).start()
            url = self.pg.create_database("template")
        build(url, self.findings, True)
        return url

    def copy(self, db: str) -> str:
        self.n += 1
        if db == "sqlite":
            dest = self.work / f"run{self.n}.db"
            shutil.copy(self.work / "template.db", dest)
            return f"sqlite:///{dest}"
        import psycopg

        assert self.pg is not None
        with psycopg.connect(f"host=127.0.0.1 port={self.pg.port} user=postgres dbname=postgres",
                             autocommit=True) as con:
            con.execute(f'CREATE DATABASE "run{self.n}" TEMPLATE "template"')
        return self.pg.url(f"run{self.n}")

    def close(self) -> None:
        if self.pg is not None:
            self.pg.stop()


def left_sending(url: str) -> int:
    from sqlalchemy import func, select

    from models import OutboxMessage
    from rectify.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).where(OutboxMessage.state == "sending")) or 0
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=2000)
    ap.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rectify-faults-"))
    dbs = Databases(work, a.findings)
    sink = Sink()
    rows = []
    try:
        for db in a.db:
            t = time.perf_counter()
            dbs.template(db)
            print(f"{db}: built {a.findings:,} findings in {time.perf_counter() - t:.1f} s", flush=True)
            base = {"RECTIFY_SECRET_KEY": secrets.token_urlsafe(48), "RECTIFY_COMMAND_OFFICE": json.dumps(OFFICE),
                    "RECTIFY_SMTP__HOST": "127.0.0.1", "RECTIFY_SMTP__PORT": str(sink.port),
                    "RECTIFY_PUBLIC_URL": "https://dc.county.example"}

            def env(url: str, n: int, base=base) -> dict:
                return {**base, "RECTIFY_DATABASE_URL": url, "RECTIFY_DATA_DIR": str(work / f"var{n}")}

            sink.reset()
            _run(env(dbs.copy(db), dbs.n), "none", sink)
            expected = len(sink.got)
            for fault in SCENARIOS:
                if fault == "pg restart" and db != "postgresql":
                    continue
                sink.reset()
                url = dbs.copy(db)
                t = time.perf_counter()
                code = _run(env(url, dbs.n), fault, sink, dbs.pg)
                again = _run(env(url, dbs.n), "none", sink)  # the immediate re-run
                delivered = len(sink.got)
                dup = sum(n - 1 for n in sink.got.values())
                rows.append((db, fault, code, expected, delivered, dup, expected - delivered, left_sending(url),
                             time.perf_counter() - t))
                print(f"  {fault:<8} exit {code:>4}, re-run exit {again}: expected {expected}, delivered "
                      f"{delivered}, duplicates {dup}, lost {expected - delivered}", flush=True)
    finally:
        sink.stop()
        dbs.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| backend | fault | exit | letters expected | delivered | duplicates | lost | left `sending` |")
    print("|---|---|---|---|---|---|---|---|")
    for db, fault, code, expected, delivered, dup, lost, sending, _ in rows:
        print(f"| {db} | {fault} | {code} | {expected} | {delivered} | {dup} | {lost} | {sending} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
