"""rectify.mail.wire against a real aiosmtpd server: the prepared path delivers byte for byte what
`sendmail` would, falls back to it for anything unusual, and keeps 8-bit letters valid on 7-bit servers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiosmtplib
import pytest

from rectify.mail.compose import build_message_bytes
from rectify.mail.wire import clean, send_prepared, seven_bit
from tests.support.smtp import SmtpSink

NOW = datetime(2024, 6, 5, 0, 30, tzinfo=UTC)


def letter(text: str = "各单位：\n请于6月10日前报送整改情况。\n", html: str = "<p>请于6月10日前报送</p>",
           to: str = "li@edu.example") -> bytes:
    return build_message_bytes(from_addr="rectify@county.example", from_name="整改督办系统", to=to,
                               subject="【整改提醒】县教育局", text=text, html=html, now=NOW)


def send(sink: SmtpSink, *messages: tuple[str, bytes]) -> list[Exception | None]:
    async def main() -> list[Exception | None]:
        out: list[Exception | None] = []
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, timeout=5) as client:
            for to, data in messages:
                try:
                    await send_prepared(client, "rectify@county.example", to, data)
                    out.append(None)
                except aiosmtplib.SMTPException as exc:
                    out.append(exc)
        return out

    return asyncio.run(main())


@pytest.fixture
def sink():
    s = SmtpSink().start()
    yield s
    s.stop()


def test_it_writes_utf8_parts_as_8bit_and_says_so_in_the_envelope(sink):
    data = letter()
    assert b"Content-Transfer-Encoding: 8bit" in data and clean(data)
    assert send(sink, ("li@edu.example", data)) == [None]
    got = sink.received[0]
    assert got.data.replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n")  # byte for byte
    assert "BODY=8BITMIME" in got.mail_options
    # 8bit text is stored and sent in its canonical form, CRLF lines (RFC 2046 §4.1.1)
    assert got.message.get_body(("plain",)).get_content() == "各单位：\r\n请于6月10日前报送整改情况。\r\n"


def test_it_reencodes_8bit_parts_as_base64_for_a_7bit_server(sink):
    sink.handler.eight_bit = False
    assert send(sink, ("li@edu.example", letter())) == [None]
    got = sink.received[0]
    assert got.data.isascii() and b"Content-Transfer-Encoding: base64" in got.data
    assert "BODY=8BITMIME" not in got.mail_options
    assert got.message.get_body(("html",)).get_content() == "<p>请于6月10日前报送</p>\r\n"
    assert got.message["Subject"] == "【整改提醒】县教育局"


def test_it_stuffs_a_line_that_starts_with_a_dot_through_the_fallback(sink):
    data = letter(text="第一行\n.第二行以句点开头\n.\n")
    assert not clean(data)
    assert send(sink, ("li@edu.example", data)) == [None]
    assert sink.received[0].message.get_body(("plain",)).get_content() == "第一行\r\n.第二行以句点开头\r\n.\r\n"


def test_it_sends_bare_line_feeds_through_the_fallback(sink):
    data = letter().replace(b"\r\n", b"\n")
    assert not clean(data)
    assert send(sink, ("li@edu.example", data)) == [None]
    assert "6月10日" in sink.received[0].message.get_body(("plain",)).get_content()


def test_it_base64s_a_part_with_a_line_over_998_octets():
    data = letter(text="问" * 400 + "\n")  # 1,200 octets on one line
    assert b"Content-Transfer-Encoding: base64" in data and b"Content-Transfer-Encoding: 8bit" in data  # html 8bit


def test_it_raises_what_sendmail_raises_for_a_refused_mailbox_and_keeps_the_connection(sink):
    sink.handler.refuse = {"gone@edu.example"}
    results = send(sink, ("gone@edu.example", letter(to="gone@edu.example")), ("li@edu.example", letter()))
    assert isinstance(results[0], aiosmtplib.SMTPRecipientsRefused) and results[0].recipients[0].code == 550
    assert results[1] is None and [r.rcpt for r in sink.received] == [["li@edu.example"]]


def test_it_leaves_an_ascii_message_7bit():
    data = build_message_bytes(from_addr="a@b.example", from_name="", to="c@d.example", subject="hello",
                               text="plain words\n", html="<p>words</p>", now=NOW)
    assert data.isascii() and data.count(b"Content-Transfer-Encoding: 7bit") == 2
    assert seven_bit(data).count(b"Content-Transfer-Encoding: 7bit") == 2  # nothing to re-encode
