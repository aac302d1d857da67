"""Send the outbox's IM and SMS rows: claim (the outbox's compare-and-set), send, mark - per channel.

- Quiet hours: outside the window nothing is claimed; the rows wait for the next working morning.
- Bounded concurrency per channel; transient errors retried with exponential backoff (a vendor's
  Retry-After wins); an expired token is refreshed once and the send repeated.
- A vendor "never" (bad userid, blocked number) fails the row at once with the vendor's words.
- A channel that is down (bad credentials, unreachable) stops for this run: its rows stay pending for
  the next run or `rectify outbox retry`, untouched attempts are given back, other channels go on.
- Mail is never touched here, and nothing here can make the mail delivery fail.
- Each accepted row is marked sent at once (grouped; every database write of a dispatch goes through one
  writer, rectify.channels.writer, in its thread or - a SQLite mark whose lock is free - on the event loop:
  rectify.channels.book); the claim has an owner and a lease renewed while this sender
  works (rectify.mail.lease). Crash between send and record: the row
  stays `sending`; once its owner is known dead (same host) or its lease lapsed, the next run sends it
  again - at most the ones in flight (企业微信 also drops an identical request within 30 minutes:
  enable_duplicate_check).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rectify.channels import results as dingtalk_results
from rectify.channels.book import Book, ChannelReport
from rectify.channels.errors import SendError, guard_http_logs, scrub
from rectify.channels.http import Vendors
from rectify.channels.policy import next_window
from rectify.channels.settings import ChannelSettings
from rectify.channels.sms import Sms
from rectify.channels.vendors import Dingtalk, Robot, Wecom
from rectify.mail import lease, outbox
from rectify.runtime import Runtime

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


class RobotRouter:
    """The robot rows of one vendor: the row's address is the 督导组; its robot comes from the settings."""

    def __init__(self, robots: list[Robot]) -> None:
        self.by_group = {r.cfg.group: r for r in robots}

    def secrets(self) -> list[str]:
        return [s for r in self.by_group.values() for s in r.secrets()]

    async def send(self, to: str, payload: dict[str, Any]) -> str:
        robot = self.by_group.get(to)
        if robot is None:
            raise SendError(f"no robot configured for {to}", never=True)
        return await robot.send(to, payload)


def adapters(cfg: ChannelSettings, http: Any) -> dict[str, Any]:
    """Channel name → adapter, for the channels whose settings are filled in. Adapters live for one dispatch:
    one gettoken per app and run (a token lasts two hours; the daily run comes once a day). `http`: one
    client for all (an httpx.AsyncClient, or rectify.channels.http's Vendors), or channel name → its client."""
    client = http if callable(http) else lambda _name: http
    out: dict[str, Any] = {}
    if cfg.wecom.configured:
        out["wecom"] = Wecom(cfg.wecom, client("wecom"))
    if cfg.dingtalk.configured:
        out["dingtalk"] = Dingtalk(cfg.dingtalk, client("dingtalk"))
    if cfg.sms.configured:
        out["sms"] = Sms(cfg.sms, client("sms"))
    for vendor in ("wecom", "dingtalk"):
        robots = [Robot(r, client(f"{vendor}_robot")) for r in cfg.robots if r.vendor == vendor]
        if robots:
            out[f"{vendor}_robot"] = RobotRouter(robots)
    return out


class Clients:
    """One client per channel, its connections per vendor as many as the channel's concurrency: each vendor
    is its own host. Without a transport, the lean client (rectify/channels/http.py: httpx is not even
    imported unless a request needs it); with one (the demo's, a test's), an httpx client over it."""

    def __init__(self, cfg: ChannelSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.cfg, self.transport = cfg, transport
        self.made: dict[str, Any] = {}

    def __call__(self, name: str) -> Any:
        if name not in self.made:
            if self.transport is None:
                self.made[name] = Vendors(self.cfg.timeout, self.cfg.concurrency)
            else:
                import httpx

                self.made[name] = httpx.AsyncClient(transport=self.transport, timeout=self.cfg.timeout,
                                                    trust_env=False)
        return self.made[name]

    async def aclose(self) -> None:
        for client in self.made.values():
            await client.aclose()


def _httpx() -> Any:
    """httpx, for its exception classes, once a send raised something else than a SendError."""
    import httpx

    return httpx


async def _send_one(adapter: Any, name: str, to: str, payload: dict[str, Any], cfg: ChannelSettings) -> str:
    """One row through the vendor: token refresh once, transient errors retried with backoff."""
    refreshed = False
    tries = 0
    while True:
        try:
            return await adapter.send(to, payload)
        except SendError as exc:
            if exc.stale_token and not refreshed:
                refreshed = True
                continue
            if exc.never or exc.down:
                raise
            error = exc
        except _httpx().TimeoutException as exc:  # evaluated only for an exception that is not a SendError
            error = SendError(f"{name}: timeout ({type(exc).__name__})")
        except _httpx().TransportError as exc:  # refused, DNS, TLS: the channel is unreachable
            error = SendError(f"{name}: unreachable ({type(exc).__name__})", down=True)
            raise error from None
        tries += 1
        if tries >= cfg.tries:
            raise error
        await asyncio.sleep(error.retry_after if error.retry_after is not None else cfg.backoff * 2 ** (tries - 1))


async def _try(adapter: Any, name: str, row_id: int, payload: dict[str, Any], cfg: ChannelSettings,
               report: ChannelReport, secrets: list[str], book: Book) -> tuple[int, str, str]:
    """(row id, outcome, error): sent / never / down / transient / untried (the channel went down first).
    A row the vendor accepted is marked sent at once (grouped with others waiting) before this returns and
    its slot takes another row (_slots): a crash repeats at most `concurrency` rows of the channel."""
    if name in report.down:
        return row_id, "untried", ""
    book.writer.started()
    try:
        ref = await _send_one(adapter, name, str(payload["to"]), payload, cfg)
    except BaseException as exc:
        book.writer.finished()
        if not isinstance(exc, SendError):
            raise
        text = scrub(exc.message, secrets)
        if exc.down:
            report.down.setdefault(name, text)
        return row_id, "never" if exc.never else "down" if exc.down else "transient", text
    if name == "dingtalk":
        book.refs[row_id] = ref
    await book.writer.sent(row_id)
    return row_id, "sent", ""


async def _slots(work: list[tuple[int, str, dict[str, Any]]], slots: int,
                 one: Callable[[int, dict[str, Any]], Awaitable[tuple[int, str, str]]]) -> list[tuple[int, str, str]]:
    """A batch's rows through `slots` coroutines, each taking the next row once its own is done (sent and
    marked, or not sent): at most `slots` rows sent and not yet recorded. Cheaper than a task per row
    waiting on a semaphore (a task, a wait and a wake-up per row)."""
    rows = iter(work)  # shared: each slot takes the next row (nothing is awaited between taking and using)
    out: list[tuple[int, str, str]] = []

    async def slot() -> None:
        for row_id, _, payload in rows:
            out.append(await one(row_id, payload))

    await asyncio.gather(*(slot() for _ in range(min(slots, len(work)))))
    return out


async def _channel(book: Book, name: str, adapter: Any, *, batch: int, ids: list[int] | None) -> None:
    cfg, report = book.rt.settings.channels, book.report
    secrets = adapter.secrets()
    limit = asyncio.Semaphore(cfg.concurrency)  # 钉钉's result reads, as many at once as its sends
    retry_later: set[int] = set()
    while name not in report.down:
        work = await book.writer.run(book.claim, name, batch, ids, set(retry_later))
        if not work:
            break
        outcomes = await _slots(work, cfg.concurrency,  # per channel: each vendor has its own rate limits
                                lambda i, p: _try(adapter, name, i, p, cfg, report, secrets, book))
        results = {i: (o, e) for i, o, e in outcomes}
        if any(o != "sent" for o, _ in results.values()):
            await book.writer.run(book.record, name, results, {i: r for i, r, _ in work}, retry_later)
        if len(retry_later) > 1000:
            break
    if name == "dingtalk" and name not in report.down:
        for task, outcome, text in await dingtalk_results.settle(book.rt, adapter, book.clock(),
                                                                 wait=cfg.dingtalk.result_wait, limit=limit,
                                                                 secrets=secrets, run=book.writer.run):
            if outcome != "delivered":
                (report.failed if outcome == "failed" else report.pending).append(
                    (task.row_id, name, task.recipient, text))
                log.warning("%s row %s to %s: %s", name, task.row_id, task.recipient, text)


async def dispatch_async(rt: Runtime, now: datetime, *, batch: int = 200, ids: list[int] | None = None,
                         http: httpx.AsyncClient | None = None, respect_quiet_hours: bool = True,
                         only: str | None = None, transport: httpx.AsyncBaseTransport | None = None) -> ChannelReport:
    """Every configured channel's deliverable rows (or only one channel's), the channels side by side."""
    cfg = rt.settings.channels
    report = ChannelReport()
    guard_http_logs()
    if respect_quiet_hours:
        report.deferred_until = next_window(now, rt.settings.timezone, rt.calendar, cfg.work_start, cfg.work_end)
        if report.deferred_until is not None:
            return report
    clients = Clients(cfg, transport) if http is None else None
    clock = lease.clock_from(now)  # claims, leases and marks: the run's time, advancing in real time
    worker = lease.new_owner()

    def renew() -> None:
        with rt.sessions() as s, s.begin():
            outbox.renew(s, worker=worker, until=clock() + lease.LEASE)

    book = Book(rt, report, worker, clock)
    try:
        found = {n: a for n, a in adapters(cfg, clients or http).items() if only in (None, n)}
        with lease.Renewer(renew, lease.LEASE.total_seconds() / 4):  # a live sender's rows are never taken
            await asyncio.gather(*(_channel(book, name, a, batch=batch, ids=ids) for name, a in found.items()))
    finally:
        book.close_quick()
        book.writer.close(book.close)  # the held connection is closed in the thread that used it
        if clients is not None:
            await clients.aclose()
    return report


def dispatch(rt: Runtime, now: datetime, **kwargs: Any) -> ChannelReport:
    """Synchronous entry for the daily run, the CLI and Prefect tasks."""
    return asyncio.run(dispatch_async(rt, now, **kwargs))
