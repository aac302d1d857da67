"""Who holds a claim, and whether they are still alive: the owner of a claimed outbox row.

An owner is `host|pid|start|token`: the process start time tells a live process from a new one that
reused the pid, and the token tells two senders of one process apart. A dead owner on this host is
recognised at once (its rows go back to the queue on the next run); an owner on another host is trusted
until its lease runs out, and a live sender renews its lease while it works (`Renewer`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LEASE = timedelta(minutes=2)  # a claim lapses this long after its sender last renewed it
LEGACY_STALE = timedelta(minutes=10)  # rows claimed before leases existed (no lease_until)


def _start_ticks(pid: int) -> str | None:
    """The process start time in clock ticks since boot (Linux /proc), or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing parenthesis.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def host_name() -> str:
    return socket.gethostname()[:120]


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        parts = (text or "").split("|")
        if len(parts) != 4 or not parts[1].isdigit():
            return None  # a claim from before owners (host:pid:token) or a test's name: leases only
        return cls(parts[0], int(parts[1]), parts[2])

    def alive(self) -> bool | None:
        """True/False for an owner on this host; None (unknown) for another host."""
        if self.host != host_name():
            return None
        ticks = _start_ticks(self.pid)
        if ticks is not None:
            return ticks == self.start
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def new_owner() -> str:
    """This process, plus a token for this sender: `host|pid|start|token`."""
    pid = os.getpid()
    return f"{host_name()}|{pid}|{_start_ticks(pid) or 'na'}|{uuid.uuid4().hex[:8]}"


def on_this_host(owners: set[str | None]) -> tuple[list[str], list[str]]:
    """(dead, alive): the owners among `owners` that ran on this host and are gone, or still run."""
    dead, alive = [], []
    for text in owners:
        o = Owner.parse(text)
        state = o.alive() if o is not None else None
        if state is not None:
            (alive if state else dead).append(text)  # type: ignore[arg-type]
    return dead, alive


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_from(now: datetime) -> Callable[[], datetime]:
    """A clock that starts at `now` (a run's time, or a test's) and advances with real time."""
    t0 = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - t0)


class Renewer:
    """A thread that pushes the lease of this owner's claimed rows forward while it sends.

    A thread, not a coroutine: the lease must move even while the event loop waits on a slow server.
    """

    def __init__(self, renew: Callable[[], object], every: float) -> None:
        self._renew, self._every = renew, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-lease", daemon=True)
        self.errors = 0

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._renew()
            except Exception:  # a database hiccup: the next beat tries again, well within the lease
                self.errors += 1

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
