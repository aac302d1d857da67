"""The outbox: a message (mail, IM or SMS) is recorded before it is sent and marked sent after acceptance.

The message itself lies in a table of its own (`outbox_bodies`), written once and never updated: a row's
state changes twice or more (claimed, sent, perhaps released and retried), and SQLite rewrites a whole row,
overflow pages and all, whenever its size changes, so a letter kept in the row went through the WAL and the
checkpoint again at every claim and every mark (a third of a 100,000-finding first day's send; migration 0010).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_id", "state", "id"),
                      Index("ix_outbox_channel_state_id", "channel", "state", "id"),
                      # the rows being sent, by owner and channel: claims and lease renewals (migration 0009)
                      Index("ix_outbox_in_flight", "claimed_by", "channel", sqlite_where=text("state = 'sending'"),
                            postgresql_where=text("state = 'sending'")))

    id: Mapped[int] = mapped_column(primary_key=True)
    # recipient|day|kind (mail) or recipient|day|kind|channel (other channels): the database refuses a
    # second message of a kind to a person on a day on one channel.
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)
    # mail / wecom / dingtalk / sms / wecom_robot / dingtalk_robot
    channel: Mapped[str] = mapped_column(String(16), default="mail", server_default="mail")
    recipient: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(30))  # daily / digest / signin / ...
    day: Mapped[date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(500))
    items: Mapped[int] = mapped_column(Integer, default=0)  # findings listed, for summaries
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending/sending/sent/failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # owner: host|pid|start|token
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # renewed while the owner sends
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxBody(Base):
    """A row's message: the complete MIME message ready to send, or an IM/SMS row's rendered JSON payload."""

    __tablename__ = "outbox_bodies"

    id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    message: Mapped[bytes] = mapped_column(LargeBinary)
