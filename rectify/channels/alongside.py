"""IM/SMS alongside the mail delivery: the daily run's channel rows are sent by a forked process of their
own while this one delivers the mail.

Why: both deliveries are CPU-bound Python on loopback-fast peers (an HTTP request costs about what an SMTP
message does), so one after the other the channels added nearly their whole sending time to the run; side by
side on a second core they add little (docs/channels.md, Cost). Nothing of the outbox's guarantees changes:
the child claims, sends and marks through the same dispatcher under its own owner and lease (a crash of
either process leaves only its own in-flight rows to the next run), the mail delivery never waits for it,
and whatever happens to it the run goes on (its error is reported like any channel problem).

The sender is forked just before the day's commit and tells its owner first: the commit inserts today's
IM/SMS rows already claimed by it (outbox.Born), and hands it their ids and messages when it starts it, so
that it need not claim and read back rows it was about to get anyway. Outside the working window it names
no owner and the rows are inserted pending, as before. Should it die before starting, its rows are a dead
owner's, which the next claim takes at once.

Only the plain steps fork (as render does); in the Prefect flow the dispatch runs after the mail as before.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import pickle
from datetime import datetime
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from rectify.mail import lease
from rectify.mail.outbox import BornRow

if TYPE_CHECKING:  # the dispatcher (httpx) is imported only by a run that sends IM/SMS
    from rectify.channels.dispatch import ChannelReport
    from rectify.runtime import Runtime

log = logging.getLogger(__name__)


def _child(rt: Runtime, now: datetime, out: Connection, go: Connection) -> None:
    # The fork inherits the run's whole heap (the day's plan): none of it is this process's garbage, and
    # collecting through it would cost CPU and copy its pages. The sender's own objects are collected as usual.
    gc.freeze()
    rt.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    try:
        out.send_bytes(_owner(rt, now).encode())
        born = pickle.loads(go.recv_bytes())
    except (EOFError, OSError):  # the run ended (or failed) before starting it: nothing to send, no report
        out.close()
        return
    finally:
        go.close()
    try:
        from rectify.channels.dispatch import dispatch  # httpx loads here, beside the mail, not before it

        result: Any = dispatch(rt, now, **born)
    except BaseException as exc:  # reported to the parent, which reports it like any channel problem
        result = RuntimeError(f"{type(exc).__name__}: {exc}")
    try:
        out.send_bytes(pickle.dumps(result))
    finally:
        out.close()


def _owner(rt: Runtime, now: datetime) -> str:
    """This sender's owner when it will send today's rows at once, "" when it will not (outside the window)."""
    from rectify.channels.policy import next_window

    cfg = rt.settings.channels
    if next_window(now, rt.settings.timezone, rt.calendar, cfg.work_start, cfg.work_end) is not None:
        return ""
    return lease.new_owner()


class Alongside:
    """A dispatch in a forked process: `owner()` forks it, `go(born)` starts its sending, `result()` waits for
    its report (or raises its error), `cancel()` ends it unstarted."""

    def __init__(self, rt: Runtime, now: datetime) -> None:
        self.rt, self.now = rt, now
        self._proc: Any = None
        self._owner: str | None = None

    def owner(self) -> str:
        """Fork the sender (once) and return its owner ("" when today's rows are to be inserted pending)."""
        if self._proc is None:
            ctx = multiprocessing.get_context("fork")
            self._read, write = ctx.Pipe(duplex=False)
            go, self._go = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_child, args=(self.rt, self.now, write, go), name="rectify-channels",
                                     daemon=False)
            self._proc.start()
            write.close()
            go.close()
            try:
                self._owner = self._read.recv_bytes().decode()
            except EOFError:  # it died at once: the rows go in pending, and result() reports it
                self._owner = ""
        return self._owner or ""

    def go(self, rows: list[BornRow]) -> None:
        """Start the sending: first the rows the commit made claimed by it (outbox.Born), then the rest."""
        owner = self.owner()
        born = {"worker": owner, "born": rows} if owner else {}
        with contextlib.suppress(OSError):  # it is gone: result() reports it
            self._go.send_bytes(pickle.dumps(born))
        self._go.close()

    def result(self) -> ChannelReport:
        try:
            data = self._read.recv_bytes()
        except EOFError:
            self._proc.join()
            raise RuntimeError(f"the IM/SMS sender exited ({self._proc.exitcode}) without a report") from None
        finally:
            self._read.close()
        self._proc.join()
        got = pickle.loads(data)
        if isinstance(got, BaseException):
            raise got
        return got

    def cancel(self) -> None:
        """Unstarted (the run failed before its mail): it exits without sending; its rows, if any were made
        claimed, are a dead owner's for the next claim."""
        if self._proc is None or self._go.closed:
            return
        self._go.close()
        self._read.close()
        self._proc.join()


def wanted(rt: Runtime) -> bool:
    """Whether a run sends IM/SMS beside the mail: channels configured and a system that can fork."""
    if not (rt.settings.channels.configured() or rt.settings.channels.robots):
        return False
    return "fork" in multiprocessing.get_all_start_methods()
