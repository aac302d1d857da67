"""Exactly once under faults (issue 12 items 1-2): a sender killed, interrupted or slow never costs more
than the messages on the wire, and never leaves rows behind for a re-run.

Real aiosmtpd sink, real `rectify outbox retry` processes, both databases (the `db` fixture).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from models import OutboxMessage
from rectify.mail import lease, outbox
from rectify.mail.deliver import flush_outbox, flush_outbox_async
from tests.support.envvars import rectify_env
from tests.support.smtp import Handler, free_port, pointed_at
from tests.test_outbox import NOW, queued

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 4


class Trigger(Handler):
    """Accepts mail; on the `at`-th message it calls `act()` (a kill, a signal) before answering 250."""

    def __init__(self, at: int, act) -> None:
        super().__init__()
        self.at, self.act, self.count = at, act, 0

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        self.count += 1
        if self.count == self.at:
            self.act()
        await asyncio.sleep(0.005)  # a server that takes a moment: several messages on the wire at once
        return reply


def _start(handler) -> tuple[Controller, int]:
    port = free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    return server, port


def _sender(settings, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **rectify_env(settings, RECTIFY_SMTP__HOST="127.0.0.1", RECTIFY_SMTP__PORT=str(port),
                                       RECTIFY_SMTP__CONCURRENCY=str(CONCURRENCY))}
    env.pop("RECTIFY_CONFIG", None)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "rectify", "outbox", "retry"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _queue(rt, n: int) -> list[str]:
    to = [f"r{i:03d}@unit.example" for i in range(n)]
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued(a) for a in to], NOW)
    return to


def _states(rt) -> Counter:
    with rt.sessions() as s:
        return Counter(s.scalars(select(OutboxMessage.state)))


def _smtp(settings, port: int):
    return pointed_at(settings, port, concurrency=CONCURRENCY)


@pytest.mark.slow
def test_it_duplicates_at_most_the_connections_after_a_sigkill_and_leaves_nothing_behind(
        rt, settings, tmp_path) -> None:
    proc: list[subprocess.Popen[bytes]] = []
    handler = Trigger(at=25, act=lambda: os.kill(proc[0].pid, signal.SIGKILL))
    server, port = _start(handler)
    try:
        to = _queue(rt, 120)
        proc.append(_sender(settings, port, tmp_path))
        assert proc[0].wait(60) == -signal.SIGKILL
        assert _states(rt)["sending"] > 0  # the dead sender's claim is still there, and says whose it is
        with rt.sessions() as s:
            assert [h.owner.split("|")[1] for h in outbox.in_flight(s)] == [str(proc[0].pid)]
        again = flush_outbox(rt.sessions, _smtp(settings, port), NOW)  # the immediate re-run, same host
    finally:
        server.stop()
    got = Counter(r.rcpt[0] for r in handler.received)
    assert set(got) == set(to)  # nothing lost
    duplicates = sum(n - 1 for n in got.values())
    assert 1 <= duplicates <= CONCURRENCY  # the killed message at least; never a whole batch
    assert _states(rt) == Counter({"sent": 120}) and again.in_flight == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_it_finishes_in_flight_mail_and_releases_the_rest_on_a_signal(rt, settings, tmp_path, sig) -> None:
    proc: list[subprocess.Popen[bytes]] = []
    handler = Trigger(at=20, act=lambda: os.kill(proc[0].pid, sig))
    server, port = _start(handler)
    try:
        to = _queue(rt, 100)
        proc.append(_sender(settings, port, tmp_path))
        _out, errs = proc[0].communicate(timeout=60)
        states = _states(rt)
        accepted = len(handler.received)
        again = flush_outbox(rt.sessions, _smtp(settings, port), NOW)
    finally:
        server.stop()
    lines = errs.decode().strip().splitlines()
    assert proc[0].returncode == 128 + sig and len(lines) == 1 and "given back to the queue" in lines[0]
    assert "Traceback" not in errs.decode()
    assert states["sending"] == 0 and states["sent"] == accepted and states["pending"] == 100 - accepted
    got = Counter(r.rcpt[0] for r in handler.received)
    assert set(got) == set(to) and max(got.values()) == 1  # nothing twice, nothing lost
    assert again.sent == 100 - accepted


class Slow(Handler):
    """The first message hangs until released: a send that outlives the old 10-minute claim."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.entered.is_set():
            self.entered.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def test_it_never_takes_a_live_senders_rows_during_a_long_send(rt, settings) -> None:
    handler = Slow()
    server, port = _start(handler)
    offset = [timedelta(0)]

    def clock():  # one injected clock for both senders: time jumps, nobody waits
        return NOW + offset[0]

    cfg = _smtp(settings, port)
    cfg = cfg.model_copy(update={"smtp": cfg.smtp.model_copy(update={"concurrency": 1})})
    try:
        to = _queue(rt, 6)
        result = {}
        first = threading.Thread(target=lambda: result.setdefault("r", asyncio.run(flush_outbox_async(
            rt.sessions, cfg, NOW, clock=clock, lease_for=timedelta(minutes=2), renew_every=0.02))))
        first.start()
        assert handler.entered.wait(10)
        offset[0] = timedelta(minutes=11)  # past the old stale mark and past the first lease
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the sender renews its lease from the clock it reads
            with rt.sessions() as s:
                leases = set(s.scalars(select(OutboxMessage.lease_until).where(OutboxMessage.state == "sending")))
            if leases and min(leases) > clock():
                break
            time.sleep(0.02)
        assert leases and min(leases) > clock()
        retry = flush_outbox(rt.sessions, cfg, NOW, clock=clock)  # `rectify outbox retry` meanwhile
        assert retry.sent == 0 and [h.count for h in retry.in_flight] == [6]  # reported, not taken
        handler.release.set()
        first.join(30)
    finally:
        handler.release.set()
        server.stop()
    assert result["r"].sent == 6
    assert sorted(r.rcpt[0] for r in handler.received) == to  # each once


def test_it_takes_back_a_dead_local_owner_at_once_and_a_lapsed_remote_lease_only(rt) -> None:
    _queue(rt, 3)
    here = lease.host_name()
    dead = f"{here}|{os.getpid()}|not-my-start|t1"  # this pid, another start time: a process that is gone
    remote = "some-other-host|4242|12345|t2"
    alive = lease.new_owner()
    with rt.sessions() as s:
        ids = list(s.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        for owner, msg_id in zip((dead, remote, alive), ids, strict=True):
            assert len(outbox.claim(s, worker=owner, now=NOW, ids=[msg_id], lease_for=timedelta(minutes=2))) == 1
        taken = outbox.claim(s, worker="next", now=NOW + timedelta(seconds=1), lease_for=timedelta(hours=1))
        assert [r.id for r in taken] == [ids[0]]  # the dead local sender's row, at once
        later = outbox.claim(s, worker="later", now=NOW + timedelta(minutes=3))
        # Both leases lapsed: the remote owner's row goes back; a live sender on this host keeps its rows.
        assert [r.id for r in later] == [ids[1]]
