"""SIGTERM (and SIGINT) to `rectify serve` while its daily run is sending (issue 12): the flow-run process stops
taking messages, settles the ones on the wire, gives the rest back, and exits; serve exits cleanly; no row is
left `sending`; an immediate re-run sends the rest with at most `smtp.concurrency` duplicates.

Real processes end to end: `rectify serve` with its own Prefect server, the run triggered through the Prefect
API, an aiosmtpd server on 127.0.0.1 that answers slowly and counts Message-IDs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from datetime import date

import pytest

from rectify.config import Settings
from tests.support.counting_sink import CountingSink, outbox_states
from tests.support.county import seed_county
from tests.support.keys import TEST_SECRET
from tests.support.serve import RECTIFY, serve_env, start_serve

UNITS = 60  # 督办 today for each: its contact and leader, plus one letter for the group (121 letters)
STOP_AT = 30  # the sink signals serve after this many letters
pytestmark = pytest.mark.slow


def api(url: str, path: str, body: dict | None = None):
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body or {}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.load(resp)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_it_stops_serve_mid_send_cleanly_and_a_rerun_sends_the_rest(tmp_path, signum) -> None:
    sink = CountingSink(pause=0.1, at=STOP_AT)
    sink.controller.start()
    url = f"sqlite:///{tmp_path / 'var' / 'rectify.db'}"
    (tmp_path / "var").mkdir()
    seed_county(url, [f"单位{i:03d}" for i in range(UNITS)], date(2024, 1, 22))
    env = serve_env(tmp_path, sink.port, PREFECT_RUNNER_POLL_FREQUENCY="2")
    proc, lines, server = start_serve(env, tmp_path, timeout=180)
    try:
        daily = next(d for d in api(server, "/deployments/filter") if d["name"] == "daily-reminders")
        sink.act = lambda: os.kill(proc.pid, signum)  # `kill` (or Ctrl+C) to serve, in the middle of the send
        api(server, f"/deployments/{daily['id']}/create_flow_run", {"parameters": {"as_of": "2024-01-31"}})
        assert sink.reached.wait(180), "".join(lines)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    output = "".join(lines) + rest
    first = sum(sink.ids.values())
    states = outbox_states(url)
    assert states.get("sending", 0) == 0, states  # settled: sent, or given back
    assert first < 2 * UNITS + 1 and states.get("pending", 0) > 0, (first, states)  # it did stop mid-send
    assert proc.returncode == 0, output
    assert "Traceback" not in output and output.rstrip().endswith("stopped"), output

    sink.act = None
    again = subprocess.run([RECTIFY, "outbox", "retry"], env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    sink.controller.stop()
    assert len(sink.rcpts) == 2 * UNITS + 1  # everyone got the letter: nothing lost
    assert sink.duplicates <= Settings(secret_key=TEST_SECRET).smtp.concurrency, sink.ids.most_common(5)
    assert outbox_states(url) == {"sent": 2 * UNITS + 1}
