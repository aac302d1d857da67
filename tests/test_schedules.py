"""Schedules for real: `prefect deploy --all` against a Prefect server, and `rectify serve` end to end.

prefect.yaml silently drops keys it does not know, so the only proof is deploying it and reading back.
Both tests start real processes (a Prefect server, the CLI); they share nothing with the test harness.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from rectify.config import ScheduleSettings
from rectify.serving import LocalPrefectServer, api_healthy, free_port
from tests.support.county import seed_county
from tests.support.serve import RECTIFY, serve_env, start_serve

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def deployments(api_url: str) -> dict[str, dict]:
    req = urllib.request.Request(f"{api_url}/deployments/filter", data=b"{}",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return {d["name"]: d for d in json.load(resp)}


def schedule_of(d: dict) -> list[tuple[str, str]]:
    return [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in d["schedules"]]


def test_it_keeps_prefect_yaml_in_step_with_the_default_schedule() -> None:
    import yaml  # Prefect's own dependency, and how `prefect deploy` reads the file

    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    crons = {d["name"]: d["schedules"][0]["cron"] for d in doc["deployments"]}
    assert crons == {"daily-reminders": ScheduleSettings().daily_cron, "weekly-digest": ScheduleSettings().digest_cron}


def test_it_deploys_prefect_yaml_to_a_prefect_server_with_a_process_pool(tmp_path) -> None:
    server = LocalPrefectServer(tmp_path / "server").start()
    try:
        env = {**os.environ, "PREFECT_API_URL": server.url, "PREFECT_HOME": str(tmp_path / "client"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        prefect = [sys.executable, "-m", "prefect"]
        pool = subprocess.run([*prefect, "work-pool", "create", "rectify", "--type", "process"], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert pool.returncode == 0, pool.stdout + pool.stderr
        deploy = subprocess.run([*prefect, "--no-prompt", "deploy", "--all"], env=env, cwd=REPO,
                                capture_output=True, text=True, timeout=300)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        got = deployments(server.url)
    finally:
        server.stop()
    assert set(got) == {"daily-reminders", "weekly-digest"}
    daily, digest = got["daily-reminders"], got["weekly-digest"]
    assert daily["entrypoint"] == "flows/daily.py:daily_reminders"
    assert digest["entrypoint"] == "flows/digest.py:weekly_digest"
    assert schedule_of(daily) == [("0 8 * * *", "Asia/Shanghai")]
    assert schedule_of(digest) == [("0 16 * * 5", "Asia/Shanghai")]
    for d in (daily, digest):
        assert d["work_pool_name"] == "rectify" and d["tags"] == ["rectify"]
        assert d["global_concurrency_limit"]["limit"] == 1  # the anchors and the limit survived parsing
    assert not api_healthy(server.url, timeout=0.5)  # stopped


def test_it_serves_the_schedules_and_the_form_and_stops_cleanly(tmp_path, smtp_sink) -> None:
    web_port = free_port()
    env = serve_env(tmp_path, smtp_sink.port, web_port=web_port)
    seed_county(f"sqlite:///{tmp_path / 'var' / 'rectify.db'}", ["县财政局"], date(2024, 1, 22))
    proc, lines, api = start_serve(env, tmp_path, timeout=120)
    try:
        served = deployments(api)
        assert {n: schedule_of(d) for n, d in served.items()} == {
            "daily-reminders": [("0 8 * * *", "Asia/Shanghai")], "weekly-digest": [("0 16 * * 5", "Asia/Shanghai")]}
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/signin", timeout=10) as resp:
            assert resp.status == 200

        # `rectify remind` finds the served Prefect server and records its run there; clean output.
        remind = subprocess.run([RECTIFY, "remind", "--as-of", "2024-01-31"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=180)
        out = remind.stdout + remind.stderr
        assert remind.returncode == 0, out
        assert "Traceback" not in out and f"recorded in Prefect at {api}" in out and "已发送              3" in out
        assert len(smtp_sink.received) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "Traceback" not in output and output.rstrip().endswith("stopped")
    assert not api_healthy(api, timeout=0.5)  # its Prefect server went with it
    assert not (tmp_path / "var" / "prefect" / "server.json").exists()
