"""The fast serialiser of plain text + HTML mail reads back exactly like `build_message`'s output."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import default

import pytest

from rectify.mail.compose import Attachment, build_message, build_message_bytes, encode_attachment, to_bytes

NOW = datetime(2024, 1, 31, 0, 30, tzinfo=UTC)
CASES = [
    dict(from_name="整改督办系统", to="zhang@fin.example", to_name="张三",
         subject="【整改提醒】县财政局：3项整改任务将于1月31日到期"),
    dict(from_name="Rectify \"mail\", county", to="x@y.example", to_name="",
         subject="plain ASCII subject with a very long tail " * 4),
    dict(from_name="整改督办系统", to="office@county.example", to_name="指挥部办公室" * 6,
         subject="【整改通报】全县：12个单位48项整改任务逾期未完成，拟予通报" * 3),
    dict(from_name="整改督办系统", to="李四@单位.example", to_name="李四", subject="非 ASCII 地址走标准路径"),
]


def parsed(data: bytes):
    return email.message_from_bytes(data, policy=default)


@pytest.mark.parametrize("case", CASES)
def test_it_serialises_like_build_message(case) -> None:
    text, html = "正文\n<script>不解析</script>\n" * 40, "<p>正文 &amp; 表格</p>\n" * 40
    kw = dict(from_addr="rectify@county.example", text=text, html=html, now=NOW, **case)
    fast, slow = parsed(build_message_bytes(**kw)), parsed(to_bytes(build_message(**kw)))
    for header in ("Subject", "Date", "MIME-Version", "Content-Type"):
        assert str(fast[header]).split(";")[0] == str(slow[header]).split(";")[0], header
    for header in ("From", "To"):  # the stdlib parser puts a space between a phrase's encoded words
        assert str(fast[header]).replace(" ", "") == str(slow[header]).replace(" ", ""), header
    assert [p.get_content_type() for p in fast.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    for subtype, body in (("plain", text), ("html", html)):
        assert fast.get_body((subtype,)).get_content().replace("\r\n", "\n").rstrip("\n") == body.rstrip("\n")
    assert not fast.defects and all(not p.defects for p in fast.walk())


def test_it_keeps_lines_short_and_ascii_on_the_wire_when_a_line_is_too_long_for_8bit() -> None:
    data = build_message_bytes(from_addr="r@x.example", from_name="整改督办系统", to="a@x.example",
                               to_name="县财政局", subject="【整改督办】" + "逾期未完成" * 30, text="文" * 5000,
                               html="<p>" + "文" * 5000 + "</p>", now=NOW)
    assert data.isascii() and max(len(line) for line in data.split(b"\r\n")) <= 78
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only, as SMTP wants


def test_it_attaches_files_like_build_message_and_encodes_each_once() -> None:
    docx = Attachment("督办通知〔2024〕1号（县财政局）.docx", bytes(range(256)) * 40,
                      subtype="vnd.openxmlformats-officedocument.wordprocessingml.document")
    plain = Attachment("report.txt", b"hello")
    encoded = encode_attachment(docx)  # once, for every letter that carries it
    kw = dict(from_addr="rectify@county.example", from_name="整改督办系统", to="unit@county.example",
              to_name="张三", subject="【督办】县财政局", text="见附件\n", html="<p>见附件</p>\n", now=NOW)
    data = build_message_bytes(**kw, attachments=(encoded, plain))
    fast, slow = parsed(data), parsed(to_bytes(build_message(**kw, attachments=(docx, plain))))
    assert [p.get_content_type() for p in fast.walk()] == [p.get_content_type() for p in slow.walk()]
    got = [(p.get_filename(), p.get_content()) for p in fast.iter_attachments()]
    assert got == [(p.get_filename(), p.get_content()) for p in slow.iter_attachments()]
    assert got == [(docx.filename, docx.data), (plain.filename, b"hello")]
    assert fast.get_body(("plain",)).get_content().strip() == "见附件"
    assert not fast.defects and all(not p.defects for p in fast.walk())
    long = [line for line in data.split(b"\r\n") if len(line) > 78]  # the DOCX type is one unfoldable word
    assert long == [b"Content-Type: application/" + docx.subtype.encode()]
    assert data.split(b"\r\n\r\n", 1)[0].isascii()  # raw UTF-8 only in the 8bit text parts, never a header
    assert data.count(b"Content-Transfer-Encoding: 8bit") == 2


def greedy_words(text: str) -> list[str]:
    """The rule, spelled out character by character: each word as many whole characters as fit in 39 bytes."""
    words, chunk = [], ""
    for ch in text:
        if len((chunk + ch).encode()) > 39:
            words.append(chunk)
            chunk = ""
        chunk += ch
    return [*words, chunk]


@pytest.mark.parametrize("text", ["", "a", "县" * 13, "县" * 14, "a" + "县" * 13, "ab" + "县" * 13,
                                  "【整改督办】县财政局：12项整改任务待办理，其中3项已逾期", "😀" * 11, "x😀" * 9,
                                  "é" * 20 + "县" * 5, "A" * 39 + "B", "甲<b>乙</b> & \"丙\""])
def test_it_encodes_header_words_of_whole_characters_within_39_bytes(text) -> None:
    from email.header import decode_header

    from rectify.mail.compose import encoded_words

    got = encoded_words(text)
    lines = got.split("\r\n ")
    assert [decode_header(w)[0][0].decode() for w in lines] == greedy_words(text)
    assert all(len(w) <= 64 for w in lines)  # each line under 78 columns after "Subject: "
    assert "".join(decode_header(w)[0][0].decode() for w in lines) == text
