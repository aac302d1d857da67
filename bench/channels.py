"""Bench: what two channels beside mail cost the daily run (issue 16: ≤ 20 % over mail alone). Asserts nothing.

    .venv/bin/python bench/channels.py --findings 100000 [--db sqlite|postgresql] [--rounds 2] [--profile]

One synthetic county (bench/daily_run.py's: N findings over N/20 units, an ordinary day), every unit contact
and leader given a 企业微信 userid and a mobile number. Then, on fresh copies of that database, the same day's
`run_daily` twice: mail alone, and mail + 企业微信 + SMS (the default level policy: IM from 提醒, SMS for
督办 and 通报), each in a child process of its own (its peak RSS is its own), mail to an aiosmtpd sink and
IM/SMS to the fake vendors (tests/support/fake_vendors.py), both on 127.0.0.1 in processes of their own that
count what they accept and the CPU they spent. `--rounds 2` runs mail, channels, channels, mail (the
machine's load drifts; the figures are per round and summed, with each kind's median run). `--against DIR`
runs another checkout's code (DIR/bench/channels.py `_run`) beside each run, alternately first: before and
after under the same load. `--profile` prints a cProfile (CPU time) of the first run of each kind's own
process, and one of the first channel run's forked IM/SMS sender (render's forked workers are in neither).
`--queued` adds runs with the channel rows queued but none sent (what rendering and inserting them cost),
`--serial` runs sending them after the mail in the run's own process instead of beside it.

What is compared: Rectify's CPU (the run, its render workers and the IM/SMS sender; the sender's share is
printed apart), and the same plus the SMTP sink's (the mail server's side of the mail). The fake vendors'
CPU is printed beside, never added: their servers are the vendors', not Rectify's.
"""

from __future__ import annotations

import argparse
import gc
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
sys.path.insert(0, str(ROOT))

from bench.channels_report import show, summarise  # noqa: E402
from bench.daily_run import SINK  # noqa: E402
from bench.installed import compiled  # noqa: E402
from bench.synthetic_county import NOW, OFFICE, TODAY, build, database, finish  # noqa: E402  (the same county)

CONCURRENCY = 8  # per channel: the vendors' servers take this many requests at once


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (render workers, the IM/SMS sender)."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


# ------------------------------------------------------------------ the fake vendors (their own process)


def vendors() -> None:
    """The fake 企业微信/钉钉/SMS server on 127.0.0.1; prints 'ready PORT', on stdin EOF the counts as JSON."""
    from collections import Counter

    from tests.support.fake_vendors import FakeVendors

    fake = FakeVendors().start()
    print(f"ready {fake.port}", flush=True)
    sys.stdin.read()
    fake.stop()
    with fake.lock:
        got = Counter(d.vendor for d in fake.deliveries)
        people = {v: len({d.to for d in fake.deliveries if d.vendor == v}) for v in got}
        print(json.dumps({"delivered": dict(got), "distinct": people, "requests": len(fake.requests),
                          "tokens": dict(fake.token_fetches), "cpu_s": time.process_time()}), flush=True)


def _server(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline().strip()
    assert first.startswith("ready"), first
    return proc, first


def _counts(proc: subprocess.Popen[str]) -> dict:
    return json.loads(proc.communicate(timeout=30)[0])  # stdin closed: the server reports its counts and exits


# ------------------------------------------------------------------ the run (its own process)


def run(env_json: str, profile: str) -> None:
    os.environ.update(json.loads(env_json))
    from rectify.runtime import build_runtime
    from rectify.services import daily

    rt = build_runtime()
    phases: dict[str, float] = {}
    gc_time = {0: 0.0, 1: 0.0, 2: 0.0}  # garbage collection: seconds by generation
    gc_start = [0.0]

    def gc_clock(phase: str, info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            gc_time[info["generation"]] += time.perf_counter() - gc_start[0]

    gc.callbacks.append(gc_clock)

    def timed(name, fn):
        def wrapper(*a):
            t0 = time.perf_counter()
            try:
                return fn(*a)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
        return wrapper

    # render and dispatch stay the plain functions, as in production: render in forked workers, IM/SMS in a
    # forked process beside the mail delivery (rectify/channels/alongside.py); their time is the rest
    steps = daily.Steps(timed("plan", daily.plan_day), daily.render_letters, timed("commit", daily.commit_day),
                        timed("mail", daily.deliver), issue=timed("notices", daily.issue_day_notices))
    if os.environ.get("BENCH_SERIAL"):  # the dispatch in this process after the mail, not forked beside it
        from rectify.channels import alongside

        alongside.start = lambda *_: None
    if os.environ.get("BENCH_QUEUE_ONLY"):  # the rows queued, none sent: what rendering and inserting them cost
        from dataclasses import replace
        from types import SimpleNamespace

        steps = replace(steps, dispatch=lambda *_: SimpleNamespace(sent={}, pending=[], failed=[], down={},
                                                                   deferred_until=None))
    sender_file = Path(os.environ["RECTIFY_DATA_DIR"] + ".sender")  # beside the run's data folder
    _watch_sender(sender_file, bool(profile))
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
        os.register_at_fork(after_in_child=lambda: sys.setprofile(None))  # forks (workers, sender) unprofiled
        profiler.enable()
    t, cpu, own, faults = time.perf_counter(), cpu_s(), _own(), _faults()
    report = daily.run_daily(rt, TODAY, NOW, steps=steps)
    run_s, cpu, own, faults = time.perf_counter() - t, cpu_s() - cpu, _own() - own, _faults() - faults
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(45)
        Path(profile).write_text(buf.getvalue(), encoding="utf-8")
    phases["render, waiting for IM/SMS (the rest)"] = run_s - sum(phases.values())
    rt.close()
    sender = json.loads(sender_file.read_text()) if sender_file.exists() else {"cpu_s": 0.0, "gc_s": 0.0,
                                                                                  "profile": ""}
    out = {"run_s": run_s, "cpu_s": cpu, "own_cpu_s": own, "faults": faults,
           "sender_cpu_s": sender["cpu_s"], "sender_gc_s": sender["gc_s"], "sender_faults": sender.get("faults", 0),
           "sender_profile": sender["profile"],
           "phases": phases, "gc_s": gc_time, "rss_mib": rss_mib(),
           "messages": report.messages,
           "sent": report.sent, "channels": report.channels, "channels_sent": report.channels_sent,
           "channels_failed": len(report.channels_failed), "channels_pending": len(report.channels_pending),
           "channels_down": report.channels_down}
    print("RESULT " + json.dumps(out), flush=True)


def _own() -> float:
    """CPU seconds of the run's own process (not its render workers or the sender)."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _watch_sender(path: Path, profile: bool) -> None:
    """The forked IM/SMS sender (rectify/channels/alongside.py) writes its own CPU seconds, and with
    `profile` its cProfile, to `path` before it exits (the run reads it once the sender has been joined)."""
    from rectify.channels import alongside

    real = alongside._child

    def child(*args):
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile(time.process_time) if profile else None  # CPU, not wall: the machine is shared
        collect = {"s": 0.0, "at": 0.0}

        def gc_clock(phase: str, info: dict) -> None:  # the sender's own garbage collection, in CPU seconds
            if phase == "start":
                collect["at"] = time.process_time()
            else:
                collect["s"] += time.process_time() - collect["at"]

        gc.callbacks[:] = [gc_clock]
        t, faults = time.process_time(), _faults()
        if prof:
            prof.enable()
        try:
            real(*args)
        finally:
            cpu = time.process_time() - t
            text = ""
            if prof:
                prof.disable()
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(40)
                text = buf.getvalue()
            path.write_text(json.dumps({"cpu_s": cpu, "gc_s": collect["s"], "faults": _faults() - faults,
                                        "profile": text}), encoding="utf-8")

    alongside._child = child


def _child(env: dict[str, str], profile: str = "", script: str = __file__) -> dict:
    res = subprocess.run([sys.executable, script, "_run", json.dumps(env), profile], capture_output=True, text=True)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if res.returncode or line is None:
        sys.exit(f"child failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return json.loads(line[7:])


# ------------------------------------------------------------------ orchestration


def reachable(url: str) -> tuple[int, int]:
    """Every unit contact and leader gets a 企业微信 userid and a mobile number; (people, of whom reachable)."""
    from sqlalchemy import func, select, text

    from models import Person
    from rectify.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE people SET wecom_userid = 'wx' || CAST(id AS TEXT), "
                          "mobile = CAST(13800000000 + id AS TEXT) WHERE role IN ('unit_contact', 'unit_leader')"))
        total = conn.scalar(select(func.count()).select_from(Person))
        reach = conn.scalar(select(func.count()).where(Person.mobile.is_not(None)))
    engine.dispose()
    return total, reach


def copy_db(db: str, work: Path, pg, name: str) -> str:
    if db == "sqlite":
        shutil.copy(work / "rectify.db", work / f"{name}.db")
        return f"sqlite:///{work / f'{name}.db'}"
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE "bench"')
    return pg.url(name)


def one(kind: str, url: str, base_env: dict[str, str], profile: str, script: str = __file__,
        floor: bool = False) -> dict:
    """One daily run of `kind` (mail / channels) on `url`, with its own sink and fake vendors; `script`: the
    bench/channels.py whose code runs it (--against: another checkout's); `floor`: after a channel run, its
    IM/SMS rows sent again bare (bench/channels_floor.py) to fresh fake vendors, in a process of its own."""
    from tests.support.fake_vendors import channel_settings

    port = _free_port()
    sink, _ = _server([str(SINK), str(port)])
    fake, ready = _server([__file__, "_vendors"])
    env = {**base_env, "RECTIFY_DATABASE_URL": url, "RECTIFY_SMTP__PORT": str(port)}
    if kind in ("channels", "queued", "serial"):
        cfg = channel_settings(f"http://127.0.0.1:{ready.split()[1]}", concurrency=CONCURRENCY)
        del cfg["dingtalk"], cfg["robots"]  # two channels: 企业微信 and SMS
        env["RECTIFY_CHANNELS"] = json.dumps(cfg, ensure_ascii=False)
        if kind == "queued":
            env["BENCH_QUEUE_ONLY"] = "1"
        if kind == "serial":
            env["BENCH_SERIAL"] = "1"
    load = os.getloadavg()[0]
    res = _child(env, profile, script)
    res["load"] = (load + os.getloadavg()[0]) / 2
    res["smtp"] = _counts(sink)
    res["vendors"] = _counts(fake)
    if floor and kind == "channels":
        fake, ready = _server([__file__, "_vendors"])
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "channels_floor.py"), url, ready.split()[1],
                              str(CONCURRENCY)], capture_output=True, text=True, check=True).stdout
        res["floor"] = {**json.loads(out.splitlines()[-1]), "vendors": _counts(fake)}
    return res


def _free_port() -> int:
    from rectify.serving import free_port

    return free_port()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--rounds", type=int, default=1, help="1: mail, channels; 2: mail, channels, channels, mail")
    ap.add_argument("--profile", action="store_true", help="cProfile of the first run of each kind")
    ap.add_argument("--queued", action="store_true",
                    help="also a run with the channel rows queued but none sent (after each channel run)")
    ap.add_argument("--serial", action="store_true",
                    help="also a run sending the IM/SMS after the mail in the run's own process")
    ap.add_argument("--floor", action="store_true", help="after each channel run, its IM/SMS rows sent again "
                    "bare (plain asyncio streams, no outbox) to fresh fake vendors: the HTTP exchanges' own cost")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--against", metavar="DIR", help="also run another checkout's code (DIR/bench/channels.py) "
                    "on the same county, each run beside this code's, in alternating order: a before/after pair")
    a = ap.parse_args()
    print(compiled(), flush=True)

    work = Path(tempfile.mkdtemp(prefix="rectify-bench-channels-"))
    pg = None
    try:
        url, pg = database(work, a.db)
        print(f"building {a.findings:,} findings over {max(a.findings // 20, 1):,} units on {a.db} …", flush=True)
        build_s = build(url, a.findings, False)
        people, reach = reachable(url)
        print(f"  built in {build_s:.1f} s; {reach:,} of {people:,} people have 企业微信 and a mobile", flush=True)
        base_env = {"RECTIFY_DATA_DIR": str(work / "var"), "RECTIFY_SECRET_KEY": secrets.token_urlsafe(48),
                    "RECTIFY_COMMAND_OFFICE": json.dumps(OFFICE), "RECTIFY_SMTP__HOST": "127.0.0.1",
                    "RECTIFY_PUBLIC_URL": "https://dc.county.example", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        order = ["mail", "channels"] + (["channels", "mail"] * (a.rounds - 1))
        extra = (["queued"] if a.queued else []) + (["serial"] if a.serial else [])
        order = [k for kind in order for k in ((kind, *extra) if kind == "channels" else (kind,))]
        results: dict[str, list[dict]] = {"mail": [], "channels": [], "queued": [], "serial": []}
        theirs: dict[str, list[dict]] = {k: [] for k in results}
        other = str(Path(a.against).resolve() / "bench" / "channels.py") if a.against else ""
        # --against: each run beside the other code's, which goes first every other time (the same load for both)
        order = [(k, t) for i, k in enumerate(order) for t in (((0, 1) if i % 2 == 0 else (1, 0)) if other else (0,))]
        print(f"\n{a.db}, {a.findings:,} findings, {TODAY}; concurrency {CONCURRENCY} per channel", flush=True)
        for i, (kind, tree) in enumerate(order):
            name = f"{kind}{i}"
            mine = (theirs if tree else results)[kind]
            profile = str(work / f"profile-{kind}{tree}.txt") if a.profile and not mine else ""
            r = one(kind, copy_db(a.db, work, pg, name), {**base_env, "RECTIFY_DATA_DIR": str(work / name)},
                    profile, other if tree else __file__, a.floor and not tree)
            mine.append(r)
            show(kind + ("@them" if tree else ""), r)
            if profile:
                print("    profile of the run's process (cumulative, then own time):\n" + Path(profile).read_text())
                if r["sender_profile"]:
                    print("    profile of the IM/SMS sender (own time):\n" + r["sender_profile"])
        summarise(results, "this code" if a.against else "")
        if a.against:
            summarise(theirs, f"{a.against}'s code")
    finally:
        finish(work, pg, a.keep)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        run(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    elif len(sys.argv) > 1 and sys.argv[1] == "_vendors":
        vendors()
    else:
        main()
