"""Deliver claimed outbox rows: over SMTP with aiosmtplib, or as .eml files when no SMTP host is set.

Bounded concurrency (a few connections), per-message retries with backoff for temporary errors, 5xx to a
recipient recorded as that row's failure, a problem that is the same for every recipient (login, TLS, a
refused sender) stopping the flush with every row still pending (rectify.mail.smtp).

Exactly once, as far as SMTP allows: each message is marked sent as soon as the server accepts it (marks
from the connections are grouped, and a connection's next message is put on the wire meanwhile but only
ended with its final "." once that mark is written), so a crash or kill repeats at most `smtp.concurrency`
messages. Claims carry a lease renewed while the flush works, so a long send is never taken over.
SIGINT/SIGTERM stop taking messages, finish the ones on the wire, give the rest back to the queue, and then
let the signal take its course.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import threading
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import aiosmtplib

from models import OutboxMessage
from rectify.config import Settings, SmtpSettings
from rectify.db import retrying
from rectify.mail import claims, lease, outbox, smtp, wire
from rectify.mail.interrupt import SendInterrupted
from rectify.mail.marks import Marker
from rectify.mail.smtp import SmtpConfigError, describe


@dataclass
class Delivery:
    """What became of one batch: ids sent (already marked), errors by id, ids never tried."""

    sent: list[int] = field(default_factory=list)
    permanent: dict[int, str] = field(default_factory=dict)
    temporary: dict[int, str] = field(default_factory=dict)
    untried: list[int] = field(default_factory=list)
    config_error: str = ""
    marked: bool = False  # sent ids already marked (SMTP); .eml files are marked per batch


@dataclass
class OutboxReport:
    sent: int = 0
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (id, recipient, error)
    pending: list[tuple[int, str, str]] = field(default_factory=list)  # temporary errors, retried next run
    config_error: str = ""  # same for every recipient: nothing more was tried, every row stays pending
    in_flight: list[outbox.InFlight] = field(default_factory=list)  # rows other live senders hold
    released: int = 0  # claimed but not sent (interrupt, configuration problem): back in the queue
    waiting: int = 0  # rows still pending after the flush (temporary errors, a configuration problem)
    interrupted: int = 0  # the signal number that stopped the flush

    def merge(self, other: OutboxReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.pending += other.pending
        self.config_error = self.config_error or other.config_error
        self.in_flight += other.in_flight
        self.released += other.released
        self.waiting = other.waiting


@dataclass(frozen=True)
class Outgoing:
    id: int
    recipient: str
    kind: str
    data: bytes


class Connections:
    """Open SMTP connections kept between batches: a flush connects `concurrency` times, not once per batch
    (each connection costs a handshake, EHLO and QUIT on both sides, and the server's accounting)."""

    def __init__(self) -> None:
        self.idle: list[aiosmtplib.SMTP] = []

    def take(self) -> aiosmtplib.SMTP | None:
        while self.idle:
            client = self.idle.pop()
            if client.is_connected:
                return client
        return None

    def give(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self.idle.append(client)

    async def close(self) -> None:
        clients, self.idle = self.idle, []
        for client in clients:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


async def _send_all(items: Sequence[Outgoing], cfg: SmtpSettings, *, tries: int, backoff: float,
                    marker: Marker, stop: asyncio.Event, connections: Connections | None = None) -> Delivery:
    result = Delivery(marked=True)
    pool = connections or Connections()
    queue: asyncio.Queue[Outgoing] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    def halted() -> bool:
        return stop.is_set() or bool(result.config_error)

    async def attempt(item: Outgoing, client: aiosmtplib.SMTP | None,
                      before_end: Callable[[], Awaitable[None]]) -> tuple[aiosmtplib.SMTP | None, bool]:
        """One message, tried `tries` times: (the connection to go on with, whether the server accepted it)."""
        for n in range(1, tries + 1):
            if halted():
                result.untried.append(item.id)
                break
            try:
                if client is None or not client.is_connected:
                    client = await smtp.connect(cfg)
                await wire.send_prepared(client, cfg.from_addr, item.recipient, item.data, before_end)
            except SmtpConfigError as exc:
                result.config_error = result.config_error or str(exc)
                result.untried.append(item.id)
                return None, False
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                problem = smtp.config_problem(exc, cfg)
                if problem:
                    result.config_error = result.config_error or problem
                    result.untried.append(item.id)
                    break
                if smtp.is_permanent(exc):
                    result.permanent[item.id] = describe(exc)
                    break
                if client is not None and client.is_connected:
                    client.close()
                client = None
                if n == tries:
                    result.temporary[item.id] = describe(exc)
                    # The server is unreachable: leave the rest for the next run instead of hammering it.
                    if isinstance(exc, OSError | aiosmtplib.SMTPConnectError | TimeoutError):
                        while not queue.empty():
                            result.temporary[queue.get_nowait().id] = describe(exc)
                else:
                    await asyncio.sleep(backoff * 2 ** (n - 1))
            else:
                return client, True
        return client, False

    async def worker() -> None:
        client = pool.take() if not queue.empty() else None
        last: tuple[asyncio.Future[None], int] | None = None  # the mark of this connection's last acceptance

        async def marked() -> None:
            # Awaited before the server may accept this connection's next message (wire.send_prepared's
            # `before_end`), so at most one accepted message per connection is ever unmarked, while the mark's
            # transaction overlaps the next message's MAIL, RCPT, DATA and body instead of idling the connection.
            nonlocal last
            if last is not None:
                (marking, msg_id), last = last, None
                await marking
                result.sent.append(msg_id)

        try:
            while not queue.empty() and not halted():
                item = queue.get_nowait()
                client, accepted = await attempt(item, client, marked)
                if accepted:
                    last = asyncio.ensure_future(marker.sent(item.id)), item.id
        finally:
            await marked()  # the last acceptance marked before the connection goes back to the pool
        pool.give(client)  # for the next batch; the flush closes them at its end

    # A worker that fails (the database gone past its retries) stops alone; the others stop at their own next
    # mark, so at most one accepted message per connection is left unmarked. The first error goes on up.
    done = await asyncio.gather(*(worker() for _ in range(min(cfg.concurrency, max(len(items), 1)))),
                                return_exceptions=True)
    if connections is None:
        await pool.close()
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
    while not queue.empty():
        result.untried.append(queue.get_nowait().id)
    return result


_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def write_eml(items: Sequence[Outgoing], folder: Path) -> Delivery:
    """One readable .eml file per message; written atomically, so a crash leaves no half file (and a
    repeat after a crash overwrites the same name instead of adding a copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    result = Delivery()
    for item in items:
        name = f"{item.id:08d}-{item.kind}-{_UNSAFE.sub('_', item.recipient)}.eml"
        tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_bytes(item.data)
            os.replace(tmp, folder / name)
            result.sent.append(item.id)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            result.temporary[item.id] = describe(exc)
    return result


async def deliver(items: Sequence[Outgoing], settings: Settings, *, marker: Marker, stop: asyncio.Event,
                  tries: int = 3, backoff: float = 0.5, connections: Connections | None = None) -> Delivery:
    if not items:
        return Delivery()
    if not settings.smtp_configured:
        return await asyncio.to_thread(write_eml, items, settings.outbox_path)
    return await _send_all(items, settings.smtp, tries=tries, backoff=backoff, marker=marker, stop=stop,
                           connections=connections)


def worker_id() -> str:
    return lease.new_owner()


async def flush_outbox_async(sessions, settings: Settings, now: datetime, *, batch: int = 200,
                             ids: Sequence[int] | None = None, backoff: float = 0.5,
                             clock: Callable[[], datetime] | None = None, lease_for: timedelta = lease.LEASE,
                             renew_every: float | None = None, stop: asyncio.Event | None = None,
                             where=None) -> OutboxReport:
    """Claim → deliver (marking each acceptance) → record errors, batch after batch, until nothing
    deliverable is left for this worker, the server is down, a setting is wrong, or `stop` is set.

    `clock` stamps claims, leases and sends (default: `now`, advancing in real time); `where` narrows the
    rows (see rectify.mail.claims.claim)."""
    report = OutboxReport()
    clock = clock or lease.clock_from(now)
    stop = stop or asyncio.Event()
    me = lease.new_owner()
    retry_later: set[int] = set()  # temporary failures wait for the next run
    max_attempts = settings.smtp.max_attempts

    engine = sessions.kw["bind"]

    @retrying  # a lost PostgreSQL connection is tried again: marking is idempotent (only our own `sending` rows)
    def mark(sent_ids: list[int]) -> None:
        with engine.begin() as conn:  # a plain connection: an ORM session costs more than the mark itself
            n = outbox.mark_sent(conn, sent_ids, worker=me, now=clock())
        report.sent += n

    @retrying
    def take() -> list[Outgoing]:
        with engine.begin() as conn:  # a plain connection, the claim's own statements (rectify.mail.claims)
            rows = claims.claim(conn, outbox.MAIL, worker=me, now=clock(), limit=batch, ids=ids,
                                exclude=set(retry_later), lease_for=lease_for, where=where,
                                returning=("recipient", "kind", "message"))
        return [Outgoing(*r) for r in rows]

    @retrying
    def release_unsent(items: list[Outgoing]) -> None:
        with sessions() as s, s.begin():
            report.released += outbox.release(s, [i.id for i in items], worker=me)

    def renew() -> None:
        with sessions() as s, s.begin():
            outbox.renew(s, worker=me, until=clock() + lease_for)

    marker = Marker(mark)
    settle = _settle(sessions, report, me, clock, max_attempts, retry_later)
    with lease.Renewer(renew, renew_every or lease_for.total_seconds() / 4):
        # The next batch is claimed in a thread while this one goes out, so the connections never wait for
        # the database between batches; a batch claimed but not sent (a stop, an outage) is given back.
        # Claims take one thread of their own: the letters they read are allocated in that thread's malloc
        # arena and reused there, instead of spreading a first day's megabytes over every pool thread's.
        loop = asyncio.get_running_loop()
        claimer = ThreadPoolExecutor(1, thread_name_prefix="rectify-claim")
        upcoming = asyncio.ensure_future(loop.run_in_executor(claimer, take))
        connections = Connections()
        try:
            while not stop.is_set():
                items = await upcoming
                upcoming = None
                if not items:
                    break
                upcoming = asyncio.ensure_future(loop.run_in_executor(claimer, take))
                result = await deliver(items, settings, marker=marker, stop=stop, backoff=backoff,
                                       connections=connections)
                settle(result, {i.id: i for i in items})
                if result.config_error:
                    report.config_error = result.config_error
                    break
                # An outage, not one bad mailbox: stop and leave the rest pending for the next run.
                if (result.temporary and not result.sent) or len(retry_later) > 1000:
                    break
        finally:
            await connections.close()
            unsent: list[Outgoing] = []
            if upcoming is not None:
                with contextlib.suppress(Exception):  # a failed claim has nothing to give back; the first error stands
                    unsent = await upcoming
            claimer.shutdown()
            if unsent:
                release_unsent(unsent)
    mail = OutboxMessage.channel == outbox.MAIL  # IM/SMS rows are rectify/channels/' (claim takes mail only)
    where_mail = mail if where is None else mail & where

    @retrying
    def left() -> tuple[list[outbox.InFlight], int]:
        with sessions() as s:
            return outbox.in_flight(s, besides=me, where=where_mail), outbox.count_pending(s, where=where_mail)

    report.in_flight, report.waiting = left()
    return report


def _settle(sessions, report: OutboxReport, me: str, clock: Callable[[], datetime], max_attempts: int,
            retry_later: set[int]) -> Callable[[Delivery, dict[int, Outgoing]], None]:
    """Record a batch's outcome (errors, rows given back) in one transaction; the report is updated once it
    committed, so a transaction tried again after a lost connection counts nothing twice."""

    def settle(result: Delivery, by_id: dict[int, Outgoing]) -> None:
        sent, released = 0, 0
        failed: list[tuple[int, str, str]] = []
        pending: list[tuple[int, str, str]] = []
        with sessions() as s, s.begin():
            if not result.marked:
                sent = outbox.mark_sent(s, result.sent, worker=me, now=clock())
            for msg_id, error in result.permanent.items():
                outbox.mark_error(s, msg_id, error, worker=me, permanent=True, max_attempts=max_attempts)
                failed.append((msg_id, by_id[msg_id].recipient, error))
            for msg_id, error in result.temporary.items():
                state = outbox.mark_error(s, msg_id, error, worker=me, permanent=False, max_attempts=max_attempts)
                (failed if state == outbox.FAILED else pending).append((msg_id, by_id[msg_id].recipient, error))
            released = outbox.release(s, result.untried, worker=me, error=result.config_error)
        report.sent += sent
        report.failed += failed
        report.pending += pending
        report.released += released
        retry_later.update(result.temporary)

    return retrying(settle)


def flush_outbox(sessions, settings: Settings, now: datetime, **kwargs) -> OutboxReport:
    """Synchronous entry for CLI commands and Prefect tasks (which run without an event loop).

    In the main thread, SIGINT and SIGTERM stop the flush gracefully; afterwards the signal is handed to
    whoever handled it before (SIGINT raises SendInterrupted, a KeyboardInterrupt)."""
    received: list[int] = []
    saved: dict[int, object] = {}

    async def main() -> OutboxReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                saved[sig] = signal.getsignal(sig)
                loop.add_signal_handler(sig, lambda s=sig: (received.append(s), stop.set()))
        try:
            return await flush_outbox_async(sessions, settings, now, stop=stop, **kwargs)
        finally:
            for sig, previous in saved.items():
                loop.remove_signal_handler(sig)
                if previous is not None:  # None: a handler not set from Python, which asyncio leaves alone
                    signal.signal(sig, previous)  # type: ignore[arg-type]

    report = asyncio.run(main())
    if received:
        report.interrupted = received[0]
        if received[0] != signal.SIGINT and callable(saved.get(received[0])):
            signal.raise_signal(received[0])  # e.g. Prefect's or `rectify serve`'s handler, now rows are settled
        raise SendInterrupted(received[0], report.sent, report.released)
    return report
