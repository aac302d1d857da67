"""The production path of docs/deploy.md, brought up on this machine end to end.

PostgreSQL for Rectify, a Prefect server on its own PostgreSQL database, a process work pool and a
worker, `prefect deploy --all` from prefect.yaml, `daily-reminders` triggered through the Prefect API,
and the mail checked where it landed: a real SMTP server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from rectify.config import Settings
from rectify.runtime import build_runtime
from rectify.serving import LocalPrefectServer
from tests.support import factory
from tests.support.keys import TEST_SECRET

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def api(url: str, path: str, body: dict | None = None) -> dict | list:
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body or {}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.load(resp)


def run(cmd: list[str], env: dict, **kw) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300, **kw)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def test_it_runs_daily_reminders_through_a_prefect_server_worker_and_postgresql(
        tmp_path, pg_server, smtp_sink, monkeypatch) -> None:
    rectify_db = pg_server.create_database("rectify_production")
    prefect_db = pg_server.create_database("prefect_production").replace("+psycopg", "+asyncpg")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RECTIFY_"))}
    rectify_env = {
        "RECTIFY_DATABASE_URL": rectify_db, "RECTIFY_DATA_DIR": str(tmp_path / "var"),
        "RECTIFY_SECRET_KEY": TEST_SECRET, "RECTIFY_PUBLIC_URL": "https://dudao.county.example",
        "RECTIFY_SMTP__HOST": "127.0.0.1", "RECTIFY_SMTP__PORT": str(smtp_sink.port),
        "RECTIFY_SMTP__FROM_ADDR": "dudao@county.example", "RECTIFY_COMMAND_OFFICE": '["office@county.example"]',
    }
    # 1. Rectify's schema on PostgreSQL, the way an upgrade runs it: `rectify init`.
    run([sys.executable, "-m", "rectify", "init"], {**base, **rectify_env})
    rt = build_runtime(Settings(database_url=rectify_db, secret_key=TEST_SECRET))
    try:
        with rt.sessions() as s, s.begin():
            g, r = factory.group(s, members=1), factory.round_(s)
            u = factory.unit(s, "县财政局")
            factory.finding(s, unit=u, round=r, group=g, due=date(2024, 1, 22), problem="执法信息未公开")
    finally:
        rt.close()

    # 2. A Prefect server on loopback with its own PostgreSQL database.
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", prefect_db)
    server = LocalPrefectServer(tmp_path / "prefect-server").start()
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL")
    client_env = {**base, "PREFECT_API_URL": server.url, "PREFECT_HOME": str(tmp_path / "prefect-client"),
                  "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    worker = None
    try:
        # 3. A process work pool, the deployments from prefect.yaml, and a worker with Rectify's settings.
        prefect = [sys.executable, "-m", "prefect"]
        run([*prefect, "work-pool", "create", "rectify", "--type", "process"], client_env)
        run([*prefect, "--no-prompt", "deploy", "--all"], client_env)
        worker_log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen([*prefect, "worker", "start", "--pool", "rectify", "--limit", "1"],
                                  env={**client_env, **rectify_env}, cwd=REPO, stdout=worker_log,
                                  stderr=subprocess.STDOUT, start_new_session=True)

        # 4. Trigger daily-reminders through the API for a day when the finding is 7 working days late.
        deployment = next(d for d in api(server.url, "/deployments/filter") if d["name"] == "daily-reminders")
        run_ = api(server.url, f"/deployments/{deployment['id']}/create_flow_run",
                   {"parameters": {"as_of": "2024-01-31"}})
        deadline = time.monotonic() + 240
        state = None
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{server.url}/flow_runs/{run_['id']}", timeout=10) as resp:
                state = json.load(resp)
            if state["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            time.sleep(1)
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert state and state["state_type"] == "COMPLETED", log[-4000:]
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.stop()

    # The Prefect server kept its records in its own PostgreSQL database, not in a SQLite file.
    import psycopg

    with psycopg.connect(prefect_db.replace("postgresql+asyncpg", "postgresql")) as conn:
        assert conn.execute("SELECT count(*) FROM flow_run WHERE id = %s", (run_["id"],)).fetchone() == (1,)

    # 5. The mail reached the SMTP server: the unit contact, the leader and the group (督办 at +5).
    got = smtp_sink.by_recipient()
    assert len(got) == 3 and all(len(msgs) == 1 for msgs in got.values())
    subjects = {m["Subject"] for msgs in got.values() for m in msgs}
    assert any("督办" in s for s in subjects), subjects
    html = next(iter(got.values()))[0].get_body(("html",)).get_content()
    assert "https://dudao.county.example/auth/" in html and "执法信息未公开" in html
