"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts.

It can refuse chosen recipients with a 550 (a bad address) and can be stopped and restarted on the
same port to simulate an outage.
"""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass, field
from email.message import Message
from email.policy import default

from aiosmtpd.controller import Controller


@dataclass
class Received:
    envelope_from: str
    rcpt: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=default)


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    eight_bit: bool = True  # False: a 7-bit-only server (no 8BITMIME in its EHLO)
    ehlos: int = 0  # one per connection (no STARTTLS here)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.ehlos += 1
        return responses if self.eight_bit else [r for r in responses if "8BITMIME" not in r]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                                      list(envelope.mail_options)))
        return "250 Message accepted"


def pointed_at(settings, port: int, **smtp):
    """`settings` sending to a loopback SMTP server on `port` (5 s timeout), with any other SMTP settings."""
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(
        update={"host": "127.0.0.1", "port": port, "timeout": 5.0, **smtp})})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ipv6_loopback() -> bool:
    """Whether this machine can bind ::1 (some containers have no IPv6 at all)."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Handler()
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SmtpSink:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def by_recipient(self) -> dict[str, list[Message]]:
        out: dict[str, list[Message]] = {}
        for r in self.received:
            for rcpt in r.rcpt:
                out.setdefault(rcpt.lower(), []).append(r.message)
        return out
