"""`rectify web --workers N` on Linux: N worker processes, each accepting on a listening socket of its own,
the N sockets one SO_REUSEPORT group on the same address.

Why: uvicorn's supervisor binds one socket and every worker accepts from it. A worker woken by a new
connection accepts every connection then waiting (asyncio's and libuv's accept loops take all that are
queued), so keep-alive clients that connect together - a reverse proxy's upstream pool, fifty supervisors'
browsers after a meeting, bench/form_load.py's clients - could all land on one worker: one core busy under
its interpreter lock, the other idle. With a socket per worker in one SO_REUSEPORT group, Linux hands each
new connection to a socket chosen by a hash of its addresses: the workers get even shares on average,
whatever wakes first. On PostgreSQL with 50 clients the form went from 530-915 to 809-930 requests/s; its
p99 was 88-147 ms, now 85-98 ms in six runs of seven and 129 ms in the seventh (docs/form.md, stop 31).

What uvicorn's supervisor does and this keeps: the workers are spawned (not forked), each configures
logging and loads the app itself (web.app:from_settings); SIGINT or SIGTERM stops them all (each finishes
its requests); SIGHUP replaces them one by one, each old one stopped once its successor serves; a worker
that dies is replaced. Added:
- a worker that exits before it ever served (uvicorn's exit code 3 or any other: the app, the settings or
  the code on disk are broken, and would be for every replacement) stops the whole server with exit code 3
  instead of a restart loop;
- a worker whose supervisor is gone stops itself (an orphan's socket would stay in the group);
- the parent holds a bound, never listening, socket in the group for its whole life: the port stays this
  server's while a worker is replaced, and a port taken by another program fails at once.
Elsewhere (macOS, BSD: SO_REUSEPORT does not spread connections there) `balanced()` is False and uvicorn's
own supervisor serves, as before.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from rectify.serving import address_family

log = logging.getLogger("uvicorn.error")
STOP_GRACE_S = 30  # a worker still finishing requests after this long is killed
READY_TIMEOUT_S = 60  # SIGHUP: how long a replacement may take to start serving
ORPHAN_CHECK_S = 1.0  # how often a worker looks whether its supervisor is still there


def balanced() -> bool:
    """Whether the kernel spreads connections over a SO_REUSEPORT group (Linux does; others pick one)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port in the address's SO_REUSEPORT group (not yet listening)."""
    sock = socket.socket(address_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
    being replaced takes no share of the connections before it can answer them); `ready` is set once it
    serves."""

    def __init__(self, config: uvicorn.Config, ready: Any) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        sock = reuse_port_socket(self.config.host, self.config.port)
        sock.listen(self.config.backlog)
        await super().startup(sockets=[sock])
        if self.started:
            self.ready.set()


def _orphan_watch(parent: int) -> None:
    """Stop this worker (as SIGTERM does) once its supervisor is gone: an orphan would keep its socket in the
    group, and a new server started on the port by the same user would share connections with old code."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(config: uvicorn.Config, ready: Any, parent: int) -> None:
    """A worker process's body (spawned: the config arrives pickled, as in uvicorn's supervisor)."""
    config.configure_logging()
    threading.Thread(target=_orphan_watch, args=(parent,), name="orphan-watch", daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches the whole group: the parent stops us anyway
        _OwnListener(config, ready).run()


class Workers:
    """The supervisor: starts `n` workers, replaces any that dies, replaces them all one by one on SIGHUP
    (new settings, new code), stops them all on SIGINT/SIGTERM."""

    def __init__(self, config: uvicorn.Config, n: int) -> None:
        self.config, self.n = config, n
        self.procs: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.reload = threading.Event()
        self.exit_code = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._ready: dict[int, Any] = {}  # pid → the worker's "serving" event

    def _start(self) -> BaseProcess:
        ready = self._ctx.Event()
        proc = self._ctx.Process(target=_worker, args=(self.config, ready, os.getpid()), name="rectify-web",
                                 daemon=False)
        proc.start()
        assert proc.pid is not None
        self._ready[proc.pid] = ready
        log.info("Started worker process [%d]", proc.pid)
        return proc

    def _signal(self, signum: int, _frame: Any) -> None:
        (self.reload if signum == signal.SIGHUP else self.stopping).set()

    def run(self) -> int:
        """Serve until told to stop; the exit code (0, or 3 when a worker could not start)."""
        holder = reuse_port_socket(self.config.host, self.config.port)  # OSError (port taken) before any worker
        previous = {sig: signal.signal(sig, self._signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.procs = [self._start() for _ in range(self.n)]
            while not self.stopping.wait(0.5):
                if self.reload.is_set():
                    self.reload.clear()
                    self._roll()
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
            ready = self._ready.pop(proc.pid or 0, None)
            if proc.exitcode == STARTUP_FAILURE or not (ready and ready.is_set()):
                # Broken app, settings or code on disk: every replacement would fail the same way, at once
                # and for ever (a worker that never served is not restarted).
                log.error("Worker process [%d] exited (code %s) before it served: stopping the server",
                          proc.pid, proc.exitcode)
                self.exit_code = STARTUP_FAILURE
                self.stopping.set()
                return
            log.warning("Worker process [%d] died (exit code %s): starting another", proc.pid, proc.exitcode)
            self.procs[i] = self._start()

    def _roll(self) -> None:
        """SIGHUP: each worker in turn replaced by a new one, the old stopped once the new one serves; the
        port is answered throughout. A new one that does not come up in time is stopped, the old kept."""
        log.info("Replacing the %d workers one by one", len(self.procs))
        for i, old in enumerate(self.procs):
            if self.stopping.is_set():
                return
            new = self._start()
            ready = self._ready[new.pid or 0]
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not ready.wait(0.2):
                if not new.is_alive() or time.monotonic() > deadline or self.stopping.is_set():
                    log.error("New worker process [%d] did not start serving: keeping [%d]", new.pid, old.pid)
                    self._end([new])
                    return
            self._end([old])
            self.procs[i] = new

    def _end(self, procs: list[BaseProcess]) -> None:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes the requests in hand, then exits
        for proc in procs:
            proc.join(STOP_GRACE_S)
            if proc.is_alive():
                log.warning("Worker process [%d] still running after %d s: killed", proc.pid, STOP_GRACE_S)
                proc.kill()
                proc.join()
            self._ready.pop(proc.pid or 0, None)

    def _stop_all(self) -> None:
        self._end(self.procs)
