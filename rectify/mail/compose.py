"""Build complete MIME messages (text + HTML, inline images by Content-ID, attachments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid


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
