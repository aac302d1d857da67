"""One prepared message onto an aiosmtplib connection, without re-scanning every byte of it.

`aiosmtplib.SMTP.sendmail` is made for messages of unknown origin: it runs a line-ending regex over the
whole message to compute SIZE, runs it again in DATA together with the dot-stuffing regex, and parses both
addresses with `email.utils.parseaddr`. For the outbox's messages, which Rectify built itself (CRLF line
endings, ASCII addresses checked at import), that is 2-3 ms of CPU per 20 KB letter, more than building
the letter (bench/daily_run.py, issue 14). `send_prepared` speaks the same MAIL / RCPT / DATA through the
connection's own `execute_command` and protocol, after checks that cost microseconds (`bytes.count`), and
hands anything else (a bare LF, a line starting with ".", a non-ASCII address) to `sendmail` unchanged.

It also carries 8-bit bodies (`compose` writes UTF-8 parts as 8bit when their lines allow): BODY=8BITMIME
where the server offers it, and where it does not, the message re-encoded to base64 first (`seven_bit`),
so a relay that only speaks 7 bit still gets a valid message.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Awaitable, Callable
from email import message_from_bytes
from email.generator import BytesGenerator
from email.policy import SMTP as SMTP_POLICY
from io import BytesIO

import aiosmtplib
from aiosmtplib.errors import SMTPDataError, SMTPRecipientRefused, SMTPRecipientsRefused, SMTPSenderRefused

_END = b".\r\n"


def clean(data: bytes) -> bool:
    """Every line ends in CRLF (no bare LF or CR) and none starts with "." (nothing to stuff)."""
    crlf = data.count(b"\r\n")
    return (data.count(b"\n") == crlf and data.count(b"\r") == crlf and not data.startswith(b".")
            and b"\n." not in data)


def seven_bit(data: bytes) -> bytes:
    """The message with every 8bit part re-encoded to base64 (for a server without 8BITMIME).

    Rare (every common server offers 8BITMIME) and therefore done the general way, with the stdlib parser."""
    msg = message_from_bytes(data, policy=SMTP_POLICY)
    for part in msg.walk():
        if part.is_multipart() or part.get("Content-Transfer-Encoding", "").lower() != "8bit":
            continue
        raw = part.get_payload(decode=True) or b""
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = "base64"
        enc = base64.b64encode(raw)
        part.set_payload(b"\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)).decode("ascii") + "\r\n")
    out = BytesIO()
    BytesGenerator(out, policy=SMTP_POLICY).flatten(msg)
    return out.getvalue()


async def _rset_quietly(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException, aiosmtplib.SMTPServerDisconnected):
        await client.rset()


async def send_prepared(client: aiosmtplib.SMTP, sender: str, recipient: str, data: bytes,
                        before_end: Callable[[], Awaitable[object]] | None = None) -> None:
    """Send one message to one recipient; raises what `client.sendmail` raises for the same failures
    (SMTPSenderRefused, SMTPRecipientsRefused, SMTPDataError, disconnects and timeouts).

    `before_end` is awaited before the message can be accepted: after MAIL, RCPT, DATA and the body are on
    the wire, before the final "." that commits the server to it (before `sendmail` on the general path).
    The outbox awaits the previous message's mark there, so that mark's transaction overlaps this message's
    round trips instead of idling the connection, and still no connection ever has two accepted messages
    unmarked. If it raises, the connection is closed without the ".": the server drops the message."""
    if client.is_ehlo_or_helo_needed:  # after STARTTLS the server's extensions are asked again
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()
    eight = not data.isascii()
    if eight and not client.supports_extension("8bitmime"):
        data, eight = seven_bit(data), False
    if not (sender.isascii() and recipient.isascii() and clean(data)) or client.protocol is None:
        if before_end is not None:
            await before_end()
        await client.sendmail(sender, [recipient], data, mail_options=["BODY=8BITMIME"] if eight else None)
        return
    options = []
    if client.supports_extension("size"):
        options.append(b"SIZE=%d" % (len(data) + (0 if data.endswith(b"\r\n") else 2)))
    if eight:
        options.append(b"BODY=8BITMIME")
    try:
        r = await client.execute_command(b"MAIL", b"FROM:<" + sender.encode("ascii") + b">", *options)
        if r.code != 250:
            raise SMTPSenderRefused(r.code, r.message, sender)
        r = await client.execute_command(b"RCPT", b"TO:<" + recipient.encode("ascii") + b">")
        if r.code not in (250, 251):
            raise SMTPRecipientsRefused([SMTPRecipientRefused(r.code, r.message, recipient)])
        r = await client.execute_command(b"DATA")
        if r.code != 354:
            raise SMTPDataError(r.code, r.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        if before_end is None:
            protocol.write(data + (_END if data.endswith(b"\r\n") else b"\r\n" + _END))  # one write, one syscall
        else:
            protocol.write(data if data.endswith(b"\r\n") else data + b"\r\n")
            try:
                await before_end()
            except BaseException:
                client.close()  # mid-DATA, no "." sent: nothing was accepted, and the connection is unusable
                raise
            protocol.write(_END)
        try:
            r = await protocol.read_response(timeout=client.timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            client.close()  # a reply given up on would pair with the next command
            raise
        if r.code != 250:
            raise SMTPDataError(r.code, r.message)
    except (aiosmtplib.SMTPResponseException, SMTPRecipientsRefused):
        await _rset_quietly(client)  # as sendmail does: the connection stays usable for the next letter
        raise
