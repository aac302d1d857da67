"""钉钉's send results: asyncsend_v2 only says a task was accepted; who it did not reach comes later.

A 钉钉 row is marked sent when asyncsend_v2 accepts it, with the task_id in `outbox.meta` (written in the same
transaction as the mark). The dispatcher then reads each unsettled task's getsendresult: at the end of its
own run (waiting up to `[channels.dingtalk] result_wait` seconds for 钉钉 to finish), and again at every
later dispatch while 钉钉 keeps the result (24 hours). A userid 钉钉 calls invalid, refused or failed turns
the row `failed` with 钉钉's words (`rectify outbox list` shows it; `retry --failed` sends it again after the
directory is fixed); flow control ("too fast") puts it back to pending for the next run; read, unread or
"already had this today" settle it as delivered (`meta.result`). Reading results never fails a run: an
error leaves the rows to the next dispatch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from models import OutboxBody, OutboxMessage
from rectify.channels.errors import SendError, scrub
from rectify.channels.vendors import Dingtalk, send_verdict
from rectify.mail import outbox
from rectify.runtime import Runtime

log = logging.getLogger(__name__)

KEPT = timedelta(hours=24)  # 钉钉 answers getsendresult for tasks of the last 24 hours only
POLL = 0.5  # seconds between two reads of the tasks still running
Run = Callable[..., Awaitable[Any]]  # runs a blocking database function off the event loop


@dataclass(frozen=True)
class Task:
    row_id: int
    recipient: str
    userid: str
    task_id: str
    meta: dict[str, Any]


def record_tasks(conn: Connection, tasks: Sequence[tuple[int, dict[str, Any], str]], worker: str) -> None:
    """After mark_sent, in its transaction: each row's task_id into its meta (an earlier result dropped)."""
    if not tasks:
        return
    stmt = (update(OutboxMessage)
            .where(OutboxMessage.id == bindparam("row_id"), OutboxMessage.state == outbox.SENT,
                   OutboxMessage.claimed_by == worker)
            .values(meta=bindparam("new_meta"))
            .execution_options(synchronize_session=False))
    values = [{"row_id": i, "new_meta": {**{k: v for k, v in meta.items() if k != "result"}, "task_id": ref}}
              for i, meta, ref in tasks if ref]
    if values:
        conn.execute(stmt, values)


def unsettled(rt: Runtime, now: datetime) -> list[Task]:
    """钉钉 rows sent within the last 24 hours whose task has no result yet."""
    with rt.sessions() as s:
        rows = s.execute(select(OutboxMessage.id, OutboxMessage.recipient, OutboxBody.message, OutboxMessage.meta)
                         .join(OutboxBody, OutboxBody.id == OutboxMessage.id)
                         .where(OutboxMessage.channel == "dingtalk", OutboxMessage.state == outbox.SENT,
                                OutboxMessage.sent_at >= now - KEPT)
                         .order_by(OutboxMessage.id)).all()
    out = []
    for row_id, recipient, message, meta in rows:
        meta = meta or {}
        if meta.get("task_id") and not meta.get("result"):
            out.append(Task(row_id, recipient, str(json.loads(message)["to"]), str(meta["task_id"]), meta))
    return out


def _settle(s: Session, task: Task, outcome: str, text: str) -> bool:
    """Write one verdict (compare-and-set on `sent`, so a row retried meanwhile is left alone)."""
    meta = {**task.meta, "result": text or "delivered"} if outcome == "delivered" else \
        {**task.meta, "result": outcome}
    values: dict[str, Any] = {"meta": meta}
    if outcome == "failed":
        values.update(state=outbox.FAILED, last_error=text[:2000])
    elif outcome == "retry":
        values.update(state=outbox.PENDING, last_error=text[:2000], claimed_by=None, claimed_at=None)
    res = s.execute(update(OutboxMessage).where(OutboxMessage.id == task.row_id, OutboxMessage.state == outbox.SENT)
                    .values(**values).execution_options(synchronize_session=False))
    return bool(res.rowcount)


def _write(rt: Runtime, got: list[tuple[Task, str, str]]) -> list[tuple[Task, str, str]]:
    with rt.sessions() as s, s.begin():
        return [g for g in got if _settle(s, *g)]


async def check(rt: Runtime, adapter: Dingtalk, tasks: Sequence[Task], limit: asyncio.Semaphore,
                secrets: list[str], run: Run) -> tuple[list[Task], list[tuple[Task, str, str]]]:
    """Read these tasks' results: (still running, [(task, outcome, words)] settled and written)."""

    async def one(task: Task) -> tuple[Task, str, str]:
        async with limit:
            try:
                return task, *send_verdict(task.userid, await adapter.send_result(task.task_id))
            except SendError as exc:
                return task, "error", scrub(exc.message, secrets)
            except Exception as exc:  # a result we cannot read is read next time
                return task, "error", scrub(f"{type(exc).__name__}: {exc}", secrets)

    got = await asyncio.gather(*(one(t) for t in tasks))
    for task, outcome, text in got:
        if outcome == "error":
            log.warning("钉钉 getsendresult for row %s: %s (read again at the next dispatch)", task.row_id, text)
    settled = [g for g in got if g[1] not in ("unknown", "error")]
    if settled:
        settled = await run(_write, rt, settled)
    return [t for t, o, _ in got if o in ("unknown", "error")], settled


async def settle(rt: Runtime, adapter: Dingtalk, now: datetime, *, wait: float, limit: asyncio.Semaphore,
                 secrets: list[str], run: Run = asyncio.to_thread,
                 clock: Callable[[], float] = time.monotonic) -> list[tuple[Task, str, str]]:
    """Every unsettled 钉钉 task, read now and again every POLL seconds for up to `wait` seconds while some
    are still running; what stays running is read at a later dispatch. `run` runs the database work."""
    tasks = await run(unsettled, rt, now)
    deadline = clock() + wait
    out: list[tuple[Task, str, str]] = []
    while tasks:
        tasks, settled = await check(rt, adapter, tasks, limit, secrets, run)
        out.extend(settled)
        if not tasks or clock() + POLL > deadline:
            break
        await asyncio.sleep(POLL)
    return out
