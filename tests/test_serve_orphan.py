"""`rectify serve` recognises the Prefect server a killed predecessor left running (issue 12 item 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rectify.serving import PID_FILE, stop_orphan, write_pid_file

# A stand-in with the orphan's identity: its command line says `prefect server start`, in its own session.
STAND_IN = [sys.executable, "-c", "import time; time.sleep(120)", "-m", "prefect", "server", "start"]


def test_it_stops_the_server_a_killed_serve_left_behind(tmp_path) -> None:
    proc = subprocess.Popen(STAND_IN, start_new_session=True)
    try:
        write_pid_file(tmp_path, proc.pid)
        deadline = time.monotonic() + 10
        while b"prefect" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the child has exec'd (before that its command line is ours)
        t0 = time.monotonic()
        assert stop_orphan(tmp_path) == proc.pid
        assert proc.wait(5) == -15 and time.monotonic() - t0 < 5
        assert not (tmp_path / PID_FILE).exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_it_leaves_a_process_that_merely_reuses_the_pid_alone(tmp_path) -> None:
    write_pid_file(tmp_path, os.getpid())  # alive, but not a Prefect server
    assert stop_orphan(tmp_path) is None
    (tmp_path / PID_FILE).write_text(json.dumps({"pid": os.getpid(), "start": "1"}))  # another start time
    assert stop_orphan(tmp_path) is None
    assert stop_orphan(tmp_path / "nothing-here") is None
