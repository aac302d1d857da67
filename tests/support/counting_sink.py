"""An aiosmtpd server for the process-level fault tests (serve stopped mid-send, PostgreSQL restarted): it
answers each message after a pause, counts Message-IDs and recipients, and at letter `at` runs `act` in a
thread (a signal to serve, a database restart) so the send is interrupted at a known point."""

from __future__ import annotations

import asyncio
import email
import threading
from collections import Counter
from collections.abc import Callable
from email.policy import default

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from models import OutboxMessage
from rectify.db import make_engine
from rectify.serving import free_port


class CountingSink:
    def __init__(self, pause: float, at: int = 0) -> None:
        self.port = free_port()
        self.ids: Counter[str] = Counter()
        self.rcpts: Counter[str] = Counter()
        self.act: Callable[[], object] | None = None
        self.at = at
        self.reached = threading.Event()  # letter `at` was accepted
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                await asyncio.sleep(pause)
                sink.ids[str(email.message_from_bytes(envelope.content, policy=default)["Message-ID"])] += 1
                for r in envelope.rcpt_tos:
                    sink.rcpts[r.lower()] += 1
                if sum(sink.ids.values()) == sink.at:
                    sink.reached.set()
                    if sink.act is not None:
                        threading.Thread(target=sink.act, daemon=True).start()
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.ids.values())


def outbox_states(url: str) -> dict[str, int]:
    """Outbox rows by state, read with a fresh engine (the process under test has its own)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
    finally:
        engine.dispose()
