"""Deliver claimed outbox rows: over SMTP with aiosmtplib, or as .eml files when no SMTP host is set.

Bounded concurrency (a few connections), per-message retries with backoff for temporary errors,
5xx answers recorded as permanent failures. The outbox loop (`flush_outbox`) claims, delivers, marks.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiosmtplib

from models import OutboxMessage
from rectify.config import Settings, SmtpSettings
from rectify.mail import outbox


@dataclass
class Delivery:
    """What became of one batch: ids sent, and errors by id (permanent or temporary)."""

    sent: list[int] = field(default_factory=list)
    permanent: dict[int, str] = field(default_factory=dict)
    temporary: dict[int, str] = field(default_factory=dict)


@dataclass
class OutboxReport:
    sent: int = 0
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (id, recipient, error)
    pending: list[tuple[int, str, str]] = field(default_factory=list)  # temporary errors, retried next run

    def merge(self, other: OutboxReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.pending += other.pending


@dataclass(frozen=True)
class Outgoing:
    id: int
    recipient: str
    kind: str
    data: bytes


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 500 <= exc.code < 600 and not isinstance(exc, aiosmtplib.SMTPServerDisconnected)
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _client(cfg: SmtpSettings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=cfg.host, port=cfg.port, timeout=cfg.timeout,
        use_tls=cfg.security == "tls", start_tls=cfg.security == "starttls",
        username=cfg.username or None, password=cfg.password.get_secret_value() or None,
    )


async def _send_all(items: Sequence[Outgoing], cfg: SmtpSettings, *, tries: int, backoff: float) -> Delivery:
    result = Delivery()
    queue: asyncio.Queue[Outgoing] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        client: aiosmtplib.SMTP | None = None
        while not queue.empty():
            item = queue.get_nowait()
            for attempt in range(1, tries + 1):
                try:
                    if client is None or not client.is_connected:
                        client = _client(cfg)
                        await client.connect()
                    await client.sendmail(cfg.from_addr, [item.recipient], item.data)
                    result.sent.append(item.id)
                    break
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    if _is_permanent(exc):
                        result.permanent[item.id] = _describe(exc)
                        break
                    if client is not None and client.is_connected:
                        client.close()
                    client = None
                    if attempt == tries:
                        result.temporary[item.id] = _describe(exc)
                        # The server is unreachable: leave the rest for the next run instead of hammering it.
                        if isinstance(exc, OSError | aiosmtplib.SMTPConnectError | TimeoutError):
                            while not queue.empty():
                                rest = queue.get_nowait()
                                result.temporary[rest.id] = _describe(exc)
                    else:
                        await asyncio.sleep(backoff * 2 ** (attempt - 1))
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    await asyncio.gather(*(worker() for _ in range(min(cfg.concurrency, max(len(items), 1)))))
    return result


_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def write_eml(items: Sequence[Outgoing], folder: Path) -> Delivery:
    """One readable .eml file per message; written atomically, so a crash leaves no half file."""
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
            result.temporary[item.id] = _describe(exc)
    return result


async def deliver(items: Sequence[Outgoing], settings: Settings, *, tries: int = 3,
                  backoff: float = 0.5) -> Delivery:
    if not items:
        return Delivery()
    if not settings.smtp_configured:
        return await asyncio.to_thread(write_eml, items, settings.outbox_path)
    return await _send_all(items, settings.smtp, tries=tries, backoff=backoff)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def flush_outbox_async(sessions, settings: Settings, now: datetime, *, batch: int = 200,
                             ids: Sequence[int] | None = None, backoff: float = 0.5) -> OutboxReport:
    """Claim → deliver → mark, batch after batch, until nothing deliverable is left for this worker."""
    report = OutboxReport()
    me = worker_id()
    retry_later: set[int] = set()  # temporary failures wait for the next run
    while True:
        with sessions() as s:
            rows: list[OutboxMessage] = outbox.claim(s, worker=me, now=now, limit=batch, ids=ids, exclude=retry_later)
            items = [Outgoing(r.id, r.recipient, r.kind, r.message) for r in rows]
        if not items:
            return report
        result = await deliver(items, settings, backoff=backoff)
        by_id = {i.id: i for i in items}
        with sessions() as s, s.begin():
            report.sent += outbox.mark_sent(s, result.sent, worker=me, now=now)
            for msg_id, error in result.permanent.items():
                outbox.mark_error(s, msg_id, error, worker=me, permanent=True, max_attempts=settings.smtp.max_attempts)
                report.failed.append((msg_id, by_id[msg_id].recipient, error))
            for msg_id, error in result.temporary.items():
                state = outbox.mark_error(s, msg_id, error, worker=me, permanent=False,
                                          max_attempts=settings.smtp.max_attempts)
                target = report.failed if state == outbox.FAILED else report.pending
                target.append((msg_id, by_id[msg_id].recipient, error))
                retry_later.add(msg_id)
        # An outage, not one bad mailbox: stop and leave the rest pending for the next run.
        if (result.temporary and not result.sent) or len(retry_later) > 1000:
            return report


def flush_outbox(sessions, settings: Settings, now: datetime, **kwargs) -> OutboxReport:
    """Synchronous entry for CLI commands and Prefect tasks (which run without an event loop)."""
    return asyncio.run(flush_outbox_async(sessions, settings, now, **kwargs))
