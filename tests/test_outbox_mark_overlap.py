"""A connection's next message goes onto the wire while its last one is being marked, and is only let be
accepted (the final ".") once that mark is written: the mark's transaction no longer idles the connection,
and still no connection ever has two accepted messages unmarked (a crash repeats at most one per connection).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import aiosmtplib
import pytest
from sqlalchemy import select, text

from models import OutboxMessage
from rectify.mail import outbox
from rectify.mail.deliver import Outgoing, deliver, flush_outbox_async
from rectify.mail.marks import Marker
from rectify.mail.wire import send_prepared
from tests.support.smtp import Handler, SmtpSink, pointed_at
from tests.test_mail_wire import letter
from tests.test_outbox import NOW, queued


@dataclass
class MarksAtAcceptance(Handler):
    """At each acceptance, looks up whether the same connection's previous message is marked sent."""

    engine: object = None
    last_on: dict[int, str] = field(default_factory=dict)  # connection → its last accepted recipient
    previous_marked: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        previous = self.last_on.get(id(session))
        if previous is not None:
            with self.engine.connect() as conn:
                state = conn.execute(text("SELECT state FROM outbox WHERE recipient = :r"), {"r": previous}).scalar()
            self.previous_marked.append(state == "sent")
        self.last_on[id(session)] = envelope.rcpt_tos[0]
        return await super().handle_DATA(server, session, envelope)


def test_it_accepts_no_message_before_the_connections_previous_one_is_marked(rt, settings) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued(f"m{i:02d}@unit.example") for i in range(40)], NOW)
    sink = SmtpSink()
    sink.handler = MarksAtAcceptance(engine=rt.engine)
    sink.start()
    cfg = pointed_at(settings, sink.port, concurrency=3)
    try:
        report = asyncio.run(flush_outbox_async(rt.sessions, cfg, NOW, batch=15))
    finally:
        sink.stop()
    assert report.sent == 40 and len(sink.received) == 40
    assert len(sink.handler.previous_marked) == 40 - 3  # every acceptance after a connection's first
    assert all(sink.handler.previous_marked)
    with rt.sessions() as s:
        assert Counter(s.scalars(select(OutboxMessage.state))) == Counter({"sent": 40})


@dataclass
class Envelopes(Handler):
    rcpts: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpts.append(address)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def test_it_puts_the_next_message_on_the_wire_while_the_last_one_is_being_marked(settings) -> None:
    sink = SmtpSink()
    sink.handler = Envelopes()
    sink.start()
    seen: list[tuple[list[int], int, int]] = []  # (ids marked, RCPTs the server had seen, messages it accepted)

    def slow_mark(ids: list[int]) -> None:
        import time

        time.sleep(0.3)  # a slow transaction (a busy database)
        seen.append((sorted(ids), len(sink.handler.rcpts), len(sink.received)))

    cfg = pointed_at(settings, sink.port, concurrency=1)
    items = [Outgoing(i, f"o{i}@unit.example", "daily", letter(to=f"o{i}@unit.example")) for i in (1, 2, 3)]
    try:
        result = asyncio.run(deliver(items, cfg, marker=Marker(slow_mark, window=0), stop=asyncio.Event()))
    finally:
        sink.stop()
    assert sorted(result.sent) == [1, 2, 3]
    # While message 1 was being marked, message 2 was already on the wire (its RCPT seen) but not accepted.
    assert seen[0] == ([1], 2, 1)
    assert seen[1] == ([2], 3, 2)
    assert seen[2] == ([3], 3, 3)


@pytest.fixture
def sink():
    s = SmtpSink().start()
    yield s
    s.stop()


def test_it_drops_the_message_on_the_wire_and_the_connection_when_the_wait_before_its_end_fails(sink) -> None:
    class MarkFailed(Exception):
        pass

    async def refuse() -> None:
        raise MarkFailed

    async def main() -> bool:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, timeout=5) as client:
            with pytest.raises(MarkFailed):
                await send_prepared(client, "rectify@county.example", "a@unit.example", letter(to="a@unit.example"),
                                    refuse)
            return client.is_connected

    assert asyncio.run(main()) is False  # closed mid-DATA: it could not be used for another message
    assert sink.received == []  # the "." was never sent: the server accepted nothing

    async def after() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, timeout=5) as client:
            waited: list[bool] = []

            async def wait() -> None:
                waited.append(True)

            await send_prepared(client, "rectify@county.example", "b@unit.example", letter(to="b@unit.example"), wait)
        assert waited == [True]

    asyncio.run(after())
    assert [r.rcpt for r in sink.received] == [["b@unit.example"]]


def test_it_fails_every_acceptance_a_failed_mark_held() -> None:
    calls: list[list[int]] = []

    def mark(ids: list[int]) -> None:
        calls.append(sorted(ids))
        if len(calls) == 1:
            raise ConnectionError("database gone")

    async def main() -> list[object]:
        marker = Marker(mark)
        return await asyncio.gather(*(marker.sent(i) for i in range(4)), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert calls == [[0, 1, 2, 3]]  # one transaction held all four, and failed
    assert all(isinstance(o, ConnectionError) for o in outcomes)  # none is told it was marked
