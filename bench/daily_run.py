"""Bench: one daily run end to end over a synthetic county. Prints figures, asserts nothing.

    .venv/bin/python bench/daily_run.py --findings 100000 [--db sqlite|postgresql] [--catch-up] [--arrived] [--prefect]

N findings over N/20 units (a contact and a leader each), one supervision group of three per twelve
units, three command-office addresses. Findings were inspected over the last ~130 working days with
the deadline mix clerks actually type (立行立改, N个工作日内, N日内, month-end dates, 长期坚持); most
past-due ones are closed, some reported, the rest open. Levels are what yesterday's run left, so the
run does one realistic day's work; --catch-up starts every level at 0 (a first run after a big import:
each late finding jumps to its highest level at once); --arrived makes every unfinished finding wait
for 签收 (half past its day) and far or long-term ones owe a progress report (a third missed).

The run itself (`run_daily`, the code the flow runs, with SMTP to an aiosmtpd sink in another process)
happens in a fresh child process so the peak RSS printed is the run's alone. Beside it: the bare SQL
query of the open findings (the floor no run can beat), the bare reference (bench/daily_reference.py:
the same day's mail done the plainest way, on a copy of the database, to its own sink) and the ratio, and,
with --prefect, the same run as a Prefect flow on a copy against a local Prefect server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "bench" / "smtp_sink.py"  # aiosmtpd on loopback in its own process, counting what it accepts
sys.path.insert(0, str(ROOT))

from bench.installed import compiled  # noqa: E402  (ROOT on the path first)
from bench.synthetic_county import (  # noqa: E402
    NOW,
    OFFICE,
    TODAY,
    build,
    database,
    finish,
)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ the run (its own process)


def run(env_json: str, prefect: bool) -> None:
    os.environ.update(json.loads(env_json))
    from sqlalchemy import text

    from rectify.runtime import build_runtime
    from rectify.services import daily

    rt = build_runtime()
    out: dict = {}
    with rt.engine.connect() as conn:  # the floor: the bare query of the open findings, all rows fetched
        t, c = time.perf_counter(), time.process_time()
        rows = conn.execute(text("SELECT id, state, due_date, level, unit_id, group_id, last_review_on, "
                                 "inspected_on FROM findings WHERE state IN ('open', 'rejected')")).all()
        out["floor_s"], out["active"] = time.perf_counter() - t, len(rows)
        out["floor_cpu"] = time.process_time() - c
        del rows
    if prefect:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.daily import daily_reminders

        with temporary_settings(updates={PREFECT_API_URL: os.environ["BENCH_PREFECT_API"]}):
            t = time.perf_counter()
            result = daily_reminders(as_of=TODAY, now=NOW)
            out["run_s"] = time.perf_counter() - t
        report = daily.DailyReport(**result)
    else:
        phases: dict[str, float] = {}

        cpu: dict[str, float] = {}

        def timed(name, fn):
            def wrapper(*a):
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    return fn(*a)
                finally:
                    phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
                    cpu[name] = cpu.get(name, 0.0) + time.process_time() - c0
            return wrapper

        # render stays the plain function, so it runs in processes as in production; its time is the rest
        steps = daily.Steps(timed("plan", daily.plan_day), daily.render_letters,
                            timed("commit", daily.commit_day), timed("send", daily.deliver),
                            issue=timed("notices", daily.issue_day_notices))
        t = time.perf_counter()
        report = daily.run_daily(rt, TODAY, NOW, steps=steps)
        out["run_s"] = time.perf_counter() - t
        phases["render (the rest)"] = out["run_s"] - sum(phases.values())
        out["phases"] = phases
        out["phase_cpu"] = cpu
    rt.close()
    out.update(rss_mib=rss_mib(), messages=report.messages, recipients=report.recipients, items=report.items,
               sent=report.sent, pending=len(report.pending), failed=len(report.failed),
               escalations=report.escalations, reviews=report.reviews, unreachable=report.unreachable_total,
               notices=len(report.notices), scanned=report.scanned,
               followup=[report.acks, report.ack_overdue, report.progress_requests, report.progress_missed])
    print("RESULT " + json.dumps(out), flush=True)


# ------------------------------------------------------------------ orchestration


def _child(args: list[str], script: Path | None = None, argv: list[str] = ()) -> dict:
    """Run a child to its RESULT line; adds `cpu_s`, the CPU seconds of the child and everything it forked."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run([sys.executable, str(script or __file__), *args, *argv], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if res.returncode or line is None:
        sys.exit(f"child failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return {**json.loads(line[7:]), "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--catch-up", action="store_true", help="every level 0: a first run after a big import")
    ap.add_argument("--arrived", action="store_true", help="every unfinished finding waits for 签收 (issue 15)")
    ap.add_argument("--prefect", action="store_true", help="also run it as a Prefect flow (on a copy)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--save-county", metavar="FILE", help="SQLite: keep a copy of the built county for --county")
    ap.add_argument("--county", metavar="FILE", help="SQLite: start from a county saved by --save-county")
    ap.add_argument("--connections", type=int, default=20,
                    help="SMTP connections for both the run (smtp.concurrency) and the reference (default 20, "
                         "the reference's own figure; Rectify's default is 4)")
    a = ap.parse_args()
    print(compiled(), flush=True)

    from rectify.serving import LocalPrefectServer, free_port

    work = Path(tempfile.mkdtemp(prefix="rectify-bench-"))
    pg = None
    prefect_server = None
    sink_proc = None
    try:
        url, pg = database(work, a.db)
        if a.county:  # a county built before (--save-county): a million findings take ~10 minutes to build
            shutil.copy(a.county, work / "rectify.db")
            print(f"county from {a.county} (built with the options it was saved with)", flush=True)
        else:
            print(f"building {a.findings:,} findings over {max(a.findings // 20, 1):,} units on {a.db} …", flush=True)
            build_s = build(url, a.findings, a.catch_up, a.arrived)
            print(f"  built in {build_s:.1f} s", flush=True)
            if a.save_county:
                shutil.copy(work / "rectify.db", a.save_county)
        copies = {}
        for name in ("ref", "copy") if a.prefect else ("ref",):  # the same starting point for each
            if a.db == "sqlite":
                shutil.copy(work / "rectify.db", work / f"{name}.db")
                copies[name] = f"sqlite:///{work / f'{name}.db'}"
            else:
                import psycopg

                with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres",
                                     autocommit=True) as con:
                    con.execute(f'CREATE DATABASE "{name}" TEMPLATE "bench"')
                copies[name] = pg.url(name)
        copy_url = copies.get("copy")

        port = free_port()
        sink_proc = subprocess.Popen([sys.executable, str(SINK), str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert sink_proc.stdout.readline().strip() == "ready"
        base_env = {"RECTIFY_DATA_DIR": str(work / "var"), "RECTIFY_SECRET_KEY": secrets.token_urlsafe(48),
                    "RECTIFY_COMMAND_OFFICE": json.dumps(OFFICE), "RECTIFY_SMTP__HOST": "127.0.0.1",
                    "RECTIFY_SMTP__PORT": str(port), "RECTIFY_PUBLIC_URL": "https://dc.county.example",
                    "RECTIFY_SMTP__CONCURRENCY": str(a.connections),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        res = _child(["_run", json.dumps({**base_env, "RECTIFY_DATABASE_URL": url})])
        res["cpu_s"] -= res["floor_cpu"]  # the floor query shares the run's process; its CPU is not the run's
        ref_port = free_port()
        ref_sink = subprocess.Popen([sys.executable, str(SINK), str(ref_port)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        assert ref_sink.stdout.readline().strip() == "ready"
        ref = _child([], script=ROOT / "bench" / "daily_reference.py",
                     argv=[copies["ref"], str(ref_port), TODAY.isoformat(), str(a.connections)])
        ref_sink.stdin.close()
        ref_got = json.loads(ref_sink.stdout.readline())
        ref_sink.wait(30)
        flow = None
        if a.prefect:
            prefect_server = LocalPrefectServer(work / "prefect").start()
            flow = _child(["_run", json.dumps({**base_env, "RECTIFY_DATABASE_URL": copy_url,
                                               "BENCH_PREFECT_API": prefect_server.url}), "--prefect"])
        sink_proc.stdin.close()
        got = json.loads(sink_proc.stdout.readline())
        sink_proc.wait(30)

        ph = res["phases"]
        print(f"\n{a.db}, {a.findings:,} findings ({res['active']:,} open or sent back), "
              f"{'catch-up (all levels 0)' if a.catch_up else 'an ordinary day'} on {TODAY}")
        print(f"  floor: bare SELECT of the open findings      {res['floor_s']:7.2f} s")
        print(f"  daily run end to end (run_daily)             {res['run_s']:7.2f} s   "
              f"peak RSS {res['rss_mib']:.0f} MiB")
        print("    " + "  ".join(f"{k} {v:.2f} s" for k, v in ph.items()))
        if res.get("phase_cpu"):
            print("    CPU: " + "  ".join(f"{k} {v:.2f} s" for k, v in res["phase_cpu"].items())
                  + f"  (the rest, with rendering in forked workers and start-up: "
                  f"{res['cpu_s'] - sum(res['phase_cpu'].values()):.2f} s)")
        print(f"  escalations {res['escalations']}, reviews {res['reviews']}, unreachable {res['unreachable']}, "
              f"督办通知 {res.get('notices', 0)}, 签收/签收超期/进展/未报 {res.get('followup')}")
        print(f"  messages {res['messages']:,} to {res['recipients']:,} recipients listing {res['items']:,} items; "
              f"sent {res['sent']:,}, pending {res['pending']}, failed {res['failed']}")
        if flow:
            print(f"  as a Prefect flow (same data, local server)   {flow['run_s']:7.2f} s   peak RSS "
                  f"{flow['rss_mib']:.0f} MiB, sent {flow['sent']:,}")
        print(f"  SMTP sink accepted {got['messages']:,} messages, {got['bytes'] / 2**20:.1f} MiB")
        print(f"  bare reference (daily_reference.py)           {ref['run_s']:7.2f} s   peak RSS "
              f"{ref['rss_mib']:.0f} MiB, {ref['messages']:,} messages ({ref_got['bytes'] / 2**20:.1f} MiB "
              f"accepted), {ref['notices']:,} DOCX, {ref['escalations']:,} levels raised")
        print(f"  ratio run / reference: {res['run_s'] / ref['run_s']:.2f}x   ({a.connections} SMTP connections "
              f"each; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        # CPU seconds (the process, its forked workers and its SMTP sink) barely move with the machine's
        # load, while wall times on a shared machine do: the second ratio says what the work costs.
        run_cpu, ref_cpu = res["cpu_s"] + got["cpu_s"], ref["cpu_s"] + ref_got["cpu_s"]
        print(f"  CPU run + its sink {res['cpu_s']:.1f} + {got['cpu_s']:.1f} s, reference + its sink "
              f"{ref['cpu_s']:.1f} + {ref_got['cpu_s']:.1f} s: ratio {run_cpu / ref_cpu:.2f}x")
    finally:
        if sink_proc and sink_proc.poll() is None:
            sink_proc.kill()
        if prefect_server:
            prefect_server.stop()
        finish(work, pg, a.keep)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        run(sys.argv[2], "--prefect" in sys.argv[3:])
    else:
        main()
