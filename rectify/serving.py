"""Schedules on one machine: find a Prefect API (or start a local server), build the deployments.

Prefect's ephemeral mode has no scheduler, so `rectify serve` needs a real API: PREFECT_API_URL when
set, otherwise a `prefect server start` subprocess of its own (PREFECT_HOME under the data folder,
analytics off) that it stops again on exit. While it runs, the server's address is recorded in
<data_dir>/prefect/server.json so that `rectify remind` records its run there too.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from rectify.config import Settings

DAILY, DIGEST = "daily-reminders", "weekly-digest"


class ServeError(Exception):
    """The schedules cannot be served (no Prefect API, a busy port); the message says what to do."""


def prefect_home(settings: Settings) -> Path:
    return settings.data_dir / "prefect"


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, ValueError):
        return False


def address_family(host: str) -> socket.AddressFamily:
    """The socket family a server binds `host` with: IPv6 for an address with a colon, as uvicorn does."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on host:port ("already in use", or the system's reason: an address
    this machine does not have, a name that does not resolve); None when it could."""
    with socket.socket(address_family(host)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "already in use"
            return exc.strerror or str(exc)
    return None


def port_free(host: str, port: int) -> bool:
    return port_problem(host, port) is None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class LocalPrefectServer:
    """`prefect server start` on a loopback port, in its own process group, stopped cleanly on exit."""

    def __init__(self, home: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.home, self.host = home, host
        if port and not port_free(host, port):
            raise ServeError(f"port {port} is already in use: set schedule.prefect_port to another port "
                             "(0 picks a free one), or point PREFECT_API_URL at a running Prefect server")
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / "server.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY")}
        env.update(PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_SERVER_API_HOST=self.host, PREFECT_SERVER_API_PORT=str(self.port))
        return env

    def start(self, timeout: float = 120.0) -> LocalPrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(self.port)],
                env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl+C in the terminal reaches us, not the server: we stop it ourselves
            )
        write_pid_file(self.home, self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-1500:]
                self.proc = None
                raise ServeError(f"the local Prefect server exited during start-up (log {self.log}):\n{tail}")
            if api_healthy(self.url, timeout=1.0):
                return self
            time.sleep(0.3)
        self.stop()
        raise ServeError(f"the local Prefect server did not answer within {timeout:.0f} s (log {self.log})")

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        (self.home / PID_FILE).unlink(missing_ok=True)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started, by our child's group
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


PID_FILE = "server.pid"


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def write_pid_file(home: Path, pid: int) -> None:
    from rectify.mail.lease import _start_ticks

    (home / PID_FILE).write_text(json.dumps({"pid": pid, "start": _start_ticks(pid)}))


def stop_orphan(home: Path, timeout: float = 20.0) -> int | None:
    """Stop the Prefect server a killed `rectify serve` left running (recorded in <home>/server.pid).

    Only a process that is still the one recorded (same start time) and still runs `prefect server start`
    is stopped, with its process group; a reused pid is left alone. Returns the pid stopped, if any.
    """
    from rectify.mail.lease import _start_ticks

    path = home / PID_FILE
    try:
        info = json.loads(path.read_text())
        pid, start = int(info["pid"]), info.get("start")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    args = _cmdline(pid)
    ours = start is not None and _start_ticks(pid) == start and "prefect" in args and "server" in args
    path.unlink(missing_ok=True)
    if not ours:
        return None
    try:
        os.killpg(pid, signal.SIGTERM)  # the server was started as its own process group leader
    except ProcessLookupError:
        return None
    def running() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z" and _start_ticks(pid) == start

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running():
        time.sleep(0.1)
    if running():
        os.killpg(pid, signal.SIGKILL)
    return pid


def record_server(settings: Settings, api_url: str) -> Path:
    path = prefect_home(settings) / "server.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"api_url": api_url, "pid": os.getpid()}))
    return path


def known_api(settings: Settings) -> str | None:
    """The Prefect API to record runs in: PREFECT_API_URL, else a running `rectify serve`'s server.

    None when neither answers: the caller then runs in-process (mail matters more than the record).
    """
    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        return explicit if api_healthy(explicit) else None
    path = prefect_home(settings) / "server.json"
    try:
        url = json.loads(path.read_text())["api_url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if api_healthy(url, timeout=1.0) else None


def schedules(settings: Settings) -> dict[str, tuple[str, str]]:
    """Deployment name → (cron, time zone), from the settings."""
    return {DAILY: (settings.schedule.daily_cron, settings.timezone),
            DIGEST: (settings.schedule.digest_cron, settings.timezone)}


def deployments(settings: Settings) -> tuple[list[Any], list[str]]:
    """The served deployments, and the names of flows that are not available (so not served)."""
    from prefect.schedules import Cron

    from flows.daily import daily_reminders

    plan = schedules(settings)
    out = [daily_reminders.to_deployment(name=DAILY, schedules=[Cron(plan[DAILY][0], timezone=plan[DAILY][1])],
                                         description="每日整改提醒与督办")]
    missing: list[str] = []
    try:
        from flows.digest import weekly_digest
    except ImportError:
        missing.append(DIGEST)
    else:
        out.append(weekly_digest.to_deployment(name=DIGEST, schedules=[Cron(plan[DIGEST][0],
                                                                            timezone=plan[DIGEST][1])],
                                               description="整改周报"))
    return out, missing
