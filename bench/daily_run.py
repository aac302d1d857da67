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
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "bench" / "smtp_sink.py"  # aiosmtpd on loopback in its own process, counting what it accepts
sys.path.insert(0, str(ROOT))

TODAY = date(2024, 6, 5)  # a Wednesday
NOW = datetime(2024, 6, 5, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
PROBLEMS = ["未按要求公开行政执法信息，公示栏内容更新不及时", "食堂“三防”设施缺失，台账记录不全",
            "专项资金拨付滞后，<b>部分项目</b>未按期开工", "安全生产隐患排查流于形式，整改闭环不到位",
            "信访事项办理超期，群众满意度不高", "行政许可事项办理时限超过法定期限，未按规定告知申请人",
            "执法人员未按规定出示执法证件，执法文书填写不规范"]
OPINIONS = ["限期整改，建立长效机制", "立即整改，举一反三", "完善制度，明确专人负责", "加强培训，规范操作流程"]
OFFICE = ["office1@county.example", "office2@county.example", "office3@county.example"]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ the synthetic county


def month_end(d: date, months_on: int) -> date:
    m = d.month + months_on + 1  # the first of the month after, minus a day
    return date(d.year + (m - 1) // 12, (m - 1) % 12 + 1, 1) - timedelta(days=1)


def county(n: int, catch_up: bool, seed: int = 7, arrived: bool = False):
    """Rows for units, people, groups and findings (plain tuples/dicts, no ORM)."""
    from rectify.config import default_ladder
    from rectify.core.ladder import reached_level, steps_from
    from rectify.core.workcal import package_calendar

    rnd = random.Random(seed)
    cal = package_calendar()
    ladder = steps_from(default_ladder())
    yesterday = cal.add_working_days(TODAY, -1)
    n_units = max(n // 20, 1)
    n_groups = max(n_units // 12, 1)
    units = [(u, f"单位{u:06d}", "county" if u % 4 else "township", u) for u in range(1, n_units + 1)]
    groups = [(g, f"第{g}督导组") for g in range(1, n_groups + 1)]
    people = []
    for u in range(1, n_units + 1):
        people.append((f"联系人{u}", f"c{u}@unit.example", "unit_contact", u, None))
        people.append((f"负责人{u}", f"l{u}@unit.example", "unit_leader", u, None))
    for g in range(1, n_groups + 1):
        people += [(f"督导员{g}-{k}", f"s{g}-{k}@group.example", "supervisor", None, g) for k in range(3)]
    back = [cal.add_working_days(TODAY, -k) for k in range(0, 131)]

    def rows():
        for i in range(1, n + 1):
            unit = rnd.randint(1, n_units)
            inspected = back[rnd.randint(1, 130)]
            r = rnd.random()
            kind, days, due = "fixed", None, None
            if r < 0.10:
                kind, due = "immediate", cal.add_working_days(inspected, 3)
            elif r < 0.45:
                kind, days = "working_days", rnd.choice((5, 10, 15, 20, 30))
                due = cal.add_working_days(inspected, days)
            elif r < 0.65:
                kind, days = "calendar_days", rnd.choice((7, 15, 30, 60))
                due = inspected + timedelta(days=days)
            elif r < 0.95:  # 3月底前: the end of a month one to three months on
                due = month_end(inspected, rnd.randint(0, 2))
            else:
                kind = "long_term"
            p = rnd.random()
            if due is None:
                state = "open" if p < 0.85 else "closed"
            elif due < TODAY:
                state = ("closed" if p < 0.70 else "reported" if p < 0.78 else "cancelled" if p < 0.80
                         else "rejected" if p < 0.83 else "open")
            else:
                state = "open" if p < 0.65 else "reported" if p < 0.85 else "closed" if p < 0.98 else "rejected"
            level, last_review = 0, None
            if due is not None and not catch_up:
                level = reached_level(cal.working_days_between(due, yesterday), ladder)
            if due is None and state == "open" and not catch_up and inspected < back[20]:
                last_review = back[rnd.randint(1, 20)]  # reviewed every 20 working days: 1/20 due today
            follow = {}
            if arrived and state in ("open", "rejected", "reported"):  # --arrived: all wait for 签收, half late
                follow["ack_due_on"] = yesterday if i % 2 else TODAY
                if state != "reported" and (due is None or due > TODAY + timedelta(days=40)):
                    follow["progress_due_on"] = yesterday if i % 3 == 0 else TODAY  # a third missed
            yield {**follow, "id": i, "code": f"B-{i:07d}", "seq": i, "round_id": 1, "unit_id": unit,
                   "group_id": (unit - 1) // 12 % n_groups + 1, "inspected_on": inspected,
                   "problem": f"{rnd.choice(PROBLEMS)}（第{i}项）", "problem_key": f"{i:064d}",
                   "opinion": rnd.choice(OPINIONS), "deadline_kind": kind, "deadline_days": days,
                   "due_date": due, "original_due_date": due, "state": state, "level": level,
                   "last_review_on": last_review}

    return units, groups, people, rows()


def _finding_columns():
    from models import Finding

    return list(Finding.__table__.columns)


def _fill(row: dict, cols, stamp) -> tuple:
    out = []
    for c in cols:
        if c.name in row:
            out.append(row[c.name])
        elif c.name in ("created_at", "updated_at"):
            out.append(stamp)
        elif c.nullable:
            out.append(None)
        elif c.default is not None and c.default.is_scalar:
            out.append(c.default.arg)
        elif c.server_default is not None:
            out.append({"false": False, "0": 0}.get(str(getattr(c.server_default, "arg", "")), 0))
        else:
            out.append(0 if str(c.type) == "INTEGER" else "")
    return tuple(out)


def build(url: str, n: int, catch_up: bool, arrived: bool = False) -> float:
    """Migrate and fill the database with bulk inserts; returns seconds."""
    from sqlalchemy.engine import make_url

    from rectify.db import make_engine, migrate

    t = time.perf_counter()
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    units, groups, people, findings = county(n, catch_up, arrived=arrived)
    cols = _finding_columns()
    names = [c.name for c in cols]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        import sqlite3

        con = sqlite3.connect(parsed.database)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")
        stamp = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
        con.executemany("INSERT INTO units (id, name, kind, sort_order, aliases, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, '[]', ?, ?)", [(*u, stamp, stamp) for u in units])
        con.executemany("INSERT INTO supervision_groups (id, name) VALUES (?, ?)", groups)
        con.executemany("INSERT INTO people (name, email, role, unit_id, group_id, active) "
                        "VALUES (?, ?, ?, ?, ?, 1)", people)
        con.execute("INSERT INTO rounds (id, name, started_on, two_level_closure) "
                    "VALUES (1, '2024年督导', '2024-01-08', 0)")

        def conv(v):
            return v.isoformat() if isinstance(v, date) else v

        sql = f"INSERT INTO findings ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        batch = []
        for row in findings:
            batch.append(tuple(conv(v) for v in _fill(row, cols, stamp)))
            if len(batch) == 50_000:
                con.executemany(sql, batch)
                batch.clear()
        con.executemany(sql, batch)
        con.commit()
        con.execute("ANALYZE")
        con.close()
    else:
        import psycopg

        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as con, con.cursor() as cur:
            with cur.copy("COPY units (id, name, kind, sort_order, aliases, created_at, updated_at) "
                          "FROM STDIN") as cp:
                for u in units:
                    cp.write_row((*u, "[]", NOW, NOW))
            with cur.copy("COPY supervision_groups (id, name) FROM STDIN") as cp:
                for g in groups:
                    cp.write_row(g)
            with cur.copy("COPY people (name, email, role, unit_id, group_id, active) FROM STDIN") as cp:
                for p in people:
                    cp.write_row((*p, True))
            cur.execute("INSERT INTO rounds (id, name, started_on, two_level_closure) "
                        "VALUES (1, '2024年督导', '2024-01-08', false)")
            with cur.copy(f"COPY findings ({', '.join(names)}) FROM STDIN") as cp:
                for row in findings:
                    cp.write_row(_fill(row, cols, NOW))
            for table in ("units", "supervision_groups", "people", "findings", "rounds"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            con.commit()
            con.autocommit = True
            cur.execute("VACUUM ANALYZE")
    return time.perf_counter() - t


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


def database(work: Path, db: str):  # -> (url, the throwaway PostgreSQL server to stop, or None)
    """The bench's database: SQLite in `work`, or a database on a throwaway PostgreSQL cluster."""
    if db == "sqlite":
        return f"sqlite:///{work / 'rectify.db'}", None
    from tests.support.pgserver import PgServer

    pg = PgServer().start()
    return pg.create_database("bench"), pg


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
    ap.add_argument("--connections", type=int, default=20,
                    help="SMTP connections for both the run (smtp.concurrency) and the reference (default 20, "
                         "the reference's own figure; Rectify's default is 4)")
    a = ap.parse_args()

    from rectify.serving import LocalPrefectServer, free_port

    work = Path(tempfile.mkdtemp(prefix="rectify-bench-"))
    pg = None
    prefect_server = None
    sink_proc = None
    try:
        url, pg = database(work, a.db)
        print(f"building {a.findings:,} findings over {max(a.findings // 20, 1):,} units on {a.db} …", flush=True)
        build_s = build(url, a.findings, a.catch_up, a.arrived)
        print(f"  built in {build_s:.1f} s", flush=True)
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
        if pg:
            pg.stop()
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        run(sys.argv[2], "--prefect" in sys.argv[3:])
    else:
        main()
