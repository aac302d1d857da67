"""The sender claims its next batch while the current one goes out; what it claimed and did not send goes
back to the queue when it stops, so nothing waits for a lease to run out and nothing is sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from models import OutboxMessage
from rectify.mail import outbox
from rectify.mail.deliver import flush_outbox_async
from rectify.mail.marks import Marker
from tests.support.smtp import Handler, SmtpSink, pointed_at
from tests.test_outbox import NOW, queued


@dataclass
class StopAt(Handler):
    at: int = 0
    act: Callable[[], object] = field(default=lambda: None)

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.received) == self.at:
            self.act()
        return reply


def _states(rt) -> Counter:
    with rt.sessions() as s:
        return Counter(s.scalars(select(OutboxMessage.state)))


def test_it_sends_batch_after_batch_and_gives_the_claimed_batch_back_on_a_stop(rt, settings) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued(f"r{i:02d}@unit.example") for i in range(50)], NOW)
    sink = SmtpSink()

    async def main():
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        sink.handler = StopAt(at=15, act=lambda: loop.call_soon_threadsafe(stop.set))
        sink.start()
        cfg = pointed_at(settings, sink.port, concurrency=2)
        return await flush_outbox_async(rt.sessions, cfg, NOW, batch=10, stop=stop)

    try:
        report = asyncio.run(main())
    finally:
        sink.stop()
    states = _states(rt)
    accepted = len(sink.received)
    assert 15 <= accepted < 50 and report.sent == accepted
    assert states == Counter({"sent": accepted, "pending": 50 - accepted})  # nothing left `sending`
    assert report.released >= 10  # the next batch was already claimed, and went back
    assert max(Counter(r.rcpt[0] for r in sink.received).values()) == 1

    async def rest():
        sink.handler = Handler()
        sink.start()
        cfg = pointed_at(settings, sink.port)
        return await flush_outbox_async(rt.sessions, cfg, NOW, batch=10)

    try:
        again = asyncio.run(rest())
    finally:
        sink.stop()
    assert again.sent == 50 - accepted and _states(rt) == Counter({"sent": 50})


def test_it_keeps_its_connections_from_batch_to_batch(rt, settings) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued(f"k{i:02d}@unit.example") for i in range(50)], NOW)
    sink = SmtpSink().start()
    cfg = pointed_at(settings, sink.port, concurrency=3)
    try:
        report = asyncio.run(flush_outbox_async(rt.sessions, cfg, NOW, batch=10))
    finally:
        sink.stop()
    assert report.sent == 50 and _states(rt) == Counter({"sent": 50})
    assert sink.handler.ehlos == 3  # five batches over the same three connections, not fifteen


def test_it_marks_the_acceptances_of_many_connections_in_one_transaction() -> None:
    marks: list[list[int]] = []

    async def main():
        marker = Marker(lambda ids: marks.append(sorted(ids)))
        await asyncio.gather(*(marker.sent(i) for i in range(8)))  # eight connections answered at once
        await marker.sent(8)  # a later one: its own transaction, and it waits for it

    asyncio.run(main())
    assert marks == [list(range(8)), [8]]
