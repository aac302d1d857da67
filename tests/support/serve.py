"""`rectify serve` as a user starts it, for the end-to-end tests: a clean environment, the real command, and
a wait for its ready line (the tests that serve the schedules and that signal serve mid-send share it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rectify.serving import free_port
from tests.support.keys import TEST_SECRET

RECTIFY = str(Path(sys.executable).with_name("rectify"))
READY = "Press Ctrl+C to stop."


def serve_env(tmp_path: Path, smtp_port: int, *, web_port: int | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without any PREFECT_/RECTIFY_ setting, plus a county in `tmp_path/var`
    mailing to the SMTP server on `smtp_port`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "RECTIFY_"))}
    env.update(RECTIFY_DATA_DIR=str(tmp_path / "var"), RECTIFY_SECRET_KEY=TEST_SECRET,
               RECTIFY_COMMAND_OFFICE='["office@county.example"]', RECTIFY_SCHEDULE__PREFECT_PORT="0",
               RECTIFY_WEB__PORT=str(web_port or free_port()), RECTIFY_SMTP__HOST="127.0.0.1",
               RECTIFY_SMTP__PORT=str(smtp_port), PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    return env


def start_serve(env: dict[str, str], cwd: Path, timeout: float) -> tuple[subprocess.Popen[str], list[str], str]:
    """Start `rectify serve` and wait for its ready line; returns the process, the lines it printed so far
    and its Prefect server's API URL. Kills it (and fails with its output) when it does not get ready."""
    proc = subprocess.Popen([RECTIFY, "serve"], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if READY in line:
                break
        assert READY in "".join(lines), "".join(lines)
        api = json.loads((Path(env["RECTIFY_DATA_DIR"]) / "prefect" / "server.json").read_text())["api_url"]
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc, lines, api
