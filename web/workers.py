"""`rectify web --workers N` on Linux: N worker processes, each accepting on a listening socket of its own,
the N sockets one SO_REUSEPORT group on the same address.

Why: uvicorn's supervisor binds one socket and every worker accepts from it. A worker woken by a new
connection accepts every connection then waiting (asyncio's and libuv's accept loops take all that are
queued), so keep-alive clients that connect together - a reverse proxy's upstream pool, fifty supervisors'
browsers after a meeting, bench/form_load.py's clients - could all land on one worker: one core busy under
its interpreter lock, the other idle. Measured on PostgreSQL with 50 clients (flow mix, no think time): the
workers' CPU split 3.37 s / 0.52 s gave 545 requests/s at p99 166 ms, an even split 927 requests/s at p99
81 ms (docs/form-performance.md). With a socket per worker in one SO_REUSEPORT group, Linux hands each new
connection to a socket chosen by a hash of its addresses: the workers get even shares whatever wakes first.

What uvicorn's supervisor does and this keeps: the workers are spawned (not forked), each configures
logging and loads the app itself (web.app:from_settings); SIGINT or SIGTERM stops them all (each finishes
its requests); a worker that dies is replaced; one that fails before serving (exit code 3: the app or the
settings are broken and would be every time) stops the whole server with that code. The parent holds a
bound, never listening, socket in the group for its whole life: the port stays this server's while a worker
is replaced, and a port taken by another program fails at once. Elsewhere (macOS, BSD: SO_REUSEPORT does
not spread connections there) `balanced()` is False and uvicorn's own supervisor serves, as before.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("uvicorn.error")
STOP_GRACE_S = 30  # a worker still finishing requests after this long is killed


def balanced() -> bool:
    """Whether the kernel spreads connections over a SO_REUSEPORT group (Linux does; others pick one)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port in the address's SO_REUSEPORT group (not yet listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn's Config.bind_socket
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _OwnListener(uvicorn.Server):
    """uvicorn's server, listening on a socket of its own in the group once the app is loaded (a worker
    being replaced takes no share of the connections before it can answer them)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        sock = reuse_port_socket(self.config.host, self.config.port)
        sock.listen(self.config.backlog)
        await super().startup(sockets=[sock])


def _worker(config: uvicorn.Config) -> None:
    """A worker process's body (spawned: the config arrives pickled, as in uvicorn's supervisor)."""
    config.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole group: the parent stops us anyway
        _OwnListener(config).run()


class Workers:
    """The supervisor: starts `n` workers, replaces any that dies, stops them all on SIGINT/SIGTERM."""

    def __init__(self, config: uvicorn.Config, n: int) -> None:
        self.config, self.n = config, n
        self.procs: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.exit_code = 0
        self._ctx = multiprocessing.get_context("spawn")

    def _start(self) -> BaseProcess:
        proc = self._ctx.Process(target=_worker, args=(self.config,), name="rectify-web", daemon=False)
        proc.start()
        log.info("Started worker process [%d]", proc.pid)
        return proc

    def _stop(self, signum: int, _frame: Any) -> None:
        self.stopping.set()

    def run(self) -> int:
        """Serve until told to stop; the exit code (0, or 3 when a worker could not start)."""
        holder = reuse_port_socket(self.config.host, self.config.port)  # OSError (port taken) before any worker
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.procs = [self._start() for _ in range(self.n)]
            while not self.stopping.wait(0.5):
                self._replace_the_dead()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            holder.close()
        return self.exit_code

    def _replace_the_dead(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc.is_alive() or self.stopping.is_set():
                continue
            proc.join()
            if proc.exitcode == STARTUP_FAILURE:  # broken app or settings: every replacement would fail too
                log.error("Worker process [%d] failed to start: stopping the server", proc.pid)
                self.exit_code = STARTUP_FAILURE
                self.stopping.set()
                return
            log.warning("Worker process [%d] died (exit code %s): starting another", proc.pid, proc.exitcode)
            self.procs[i] = self._start()

    def _stop_all(self) -> None:
        for proc in self.procs:
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()  # SIGTERM: uvicorn finishes the requests in hand, then exits
        for proc in self.procs:
            proc.join(STOP_GRACE_S)
            if proc.is_alive():
                log.warning("Worker process [%d] still running after %d s: killed", proc.pid, STOP_GRACE_S)
                proc.kill()
                proc.join()
