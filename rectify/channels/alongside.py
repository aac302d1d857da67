"""IM/SMS alongside the mail delivery: the daily run's channel rows are sent by a forked process of their
own while this one delivers the mail.

Why: both deliveries are CPU-bound Python on loopback-fast peers (an HTTP request costs about what an SMTP
message does), so one after the other the channels added nearly their whole sending time to the run; side by
side on a second core they add little (docs/channels.md, Cost). Nothing of the outbox's guarantees changes:
the child claims, sends and marks through the same dispatcher under its own owner and lease (a crash of
either process leaves only its own in-flight rows to the next run), the mail delivery never waits for it,
and whatever happens to it the run goes on (its error is reported like any channel problem).

Only the plain steps fork (as render does); in the Prefect flow the dispatch runs after the mail as before.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import pickle
from datetime import datetime
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the dispatcher (httpx) is imported only by a run that sends IM/SMS
    from rectify.channels.dispatch import ChannelReport
    from rectify.runtime import Runtime

log = logging.getLogger(__name__)


def _child(rt: Runtime, now: datetime, out: Connection) -> None:
    # The fork inherits the run's whole heap (the day's plan): none of it is this process's garbage, and
    # collecting through it would cost CPU and copy its pages. The sender's own objects are collected as usual.
    gc.freeze()
    rt.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    try:
        from rectify.channels.dispatch import dispatch  # httpx loads here, beside the mail, not before it

        result: Any = dispatch(rt, now)
    except BaseException as exc:  # reported to the parent, which reports it like any channel problem
        result = RuntimeError(f"{type(exc).__name__}: {exc}")
    try:
        out.send_bytes(pickle.dumps(result))
    finally:
        out.close()


class Alongside:
    """A dispatch running in a forked process; `result()` waits for its report (or raises its error)."""

    def __init__(self, rt: Runtime, now: datetime) -> None:
        ctx = multiprocessing.get_context("fork")
        self._read, write = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(rt, now, write), name="rectify-channels", daemon=False)
        self._proc.start()
        write.close()

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


def start(rt: Runtime, now: datetime) -> Alongside | None:
    """Start sending the channel rows beside the mail, when there are channels and this system can fork."""
    if not (rt.settings.channels.configured() or rt.settings.channels.robots):
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return Alongside(rt, now)
