"""Build complete MIME messages (text + HTML, inline images by Content-ID, attachments)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid


@dataclass(frozen=True)
class InlineImage:
    cid: str  # referenced in the HTML as src="cid:<cid>"
    data: bytes
    subtype: str = "png"


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


def _address(email: str, name: str = "") -> Address:
    local, _, domain = email.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def build_message(*, from_addr: str, from_name: str, to: str, subject: str, text: str, html: str,
                  now: datetime, to_name: str = "", inline_images: tuple[InlineImage, ...] = (),
                  attachments: tuple[Attachment, ...] = ()) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(from_addr, from_name)
    msg["To"] = _address(to, to_name)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2] or "rectify.local")
    msg.set_content(text, charset="utf-8", cte="base64")  # 7-bit safe for any relay
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    if inline_images:
        html_part = msg.get_payload()[1]
        for img in inline_images:
            html_part.add_related(img.data, maintype="image", subtype=img.subtype, cid=f"<{img.cid}>",
                                  disposition="inline", filename=f"{img.cid}.{img.subtype}")
    for att in attachments:
        msg.add_attachment(att.data, maintype=att.maintype, subtype=att.subtype, filename=att.filename)
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=SMTP)


def _addr(name: str, email: str) -> str:
    if not name or name.isascii():
        return formataddr((name, email))
    return f"{Header(name, 'utf-8').encode(linesep=chr(13) + chr(10))} <{email}>"


def _b64(text: str) -> bytes:
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def build_message_bytes(*, from_addr: str, from_name: str, to: str, subject: str, text: str, html: str,
                        now: datetime, to_name: str = "") -> bytes:
    """`to_bytes(build_message(...))` for the plain text + HTML case, about ten times faster.

    The daily run serialises thousands of letters; the stdlib header machinery behind EmailMessage is
    most of that time. Same structure and encodings (multipart/alternative, UTF-8, base64 parts,
    RFC 2047 words folded under 78 columns); anything unusual (a non-ASCII address) takes the slow path.
    """
    if not (from_addr.isascii() and to.isascii()):
        return to_bytes(build_message(from_addr=from_addr, from_name=from_name, to=to, subject=subject,
                                      text=text, html=html, now=now, to_name=to_name))
    boundary = f"===============rectify{uuid.uuid4().hex}=="
    head = "\r\n".join((
        "From: " + _addr(from_name, from_addr),
        "To: " + _addr(to_name, to),
        "Subject: " + Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n"),
        "Date: " + format_datetime(now),
        "Message-ID: " + make_msgid(domain=from_addr.rpartition("@")[2] or "rectify.local"),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
    )).encode("ascii")
    part = ('--{b}\r\nContent-Type: text/{sub}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n'
            "MIME-Version: 1.0\r\n\r\n")
    return b"".join((head, b"\r\n\r\n",
                     part.format(b=boundary, sub="plain").encode("ascii"), _b64(text), b"\r\n",
                     part.format(b=boundary, sub="html").encode("ascii"), _b64(html), b"\r\n",
                     f"--{boundary}--\r\n".encode("ascii")))
