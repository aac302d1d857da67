"""A throwaway PostgreSQL server for the test session: initdb in a temp dir, a free loopback port.

Run as root, the server runs as the `postgres` system user (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PgUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for cand in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(cand)
    raise PgUnavailable(f"{name} not found (install PostgreSQL: apt-get install postgresql)")


class PgServer:
    def __init__(self, durable: bool = False) -> None:
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="rectify-pg-"))
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        self._started = False
        self.durable = durable

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def start(self) -> PgServer:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        res = self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C", "--no-sync")
        if res.returncode:
            raise PgUnavailable(f"initdb failed: {res.stderr.strip()}")
        # Fast and forgetful by default: a crash (restart -m immediate) may lose acknowledged commits. A test
        # about crashes asks for a durable cluster, where an acknowledged commit survives as in production.
        fast = "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.root} {fast}-c max_connections=200"
        res = self._run(pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start")
        if res.returncode:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise PgUnavailable(f"pg_ctl start failed: {res.stderr.strip()} {log[-2000:]}")
        self._started = True
        self._wait()
        return self

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise PgUnavailable("PostgreSQL did not accept connections")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self) -> None:
        """`pg_ctl restart -m immediate`: every connection is cut at once, as in a crash; waits until it is back."""
        res = self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-l", str(self.root / "log"),
                        "-w", "restart")  # the log file, not our pipes: else the new server holds them open
        if res.returncode:
            raise PgUnavailable(f"pg_ctl restart failed: {res.stderr.strip()}")
        self._wait()

    def stop(self) -> None:
        if self._started:
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)
