"""Supervision practice records: extension requests (延期申请) and numbered 督办通知 documents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ExtensionRequest(Base):
    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    previous_due: Mapped[date] = mapped_column(Date)
    proposed_due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending / approved / refused
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_due: Mapped[date | None] = mapped_column(Date)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class Notice(Base):
    """A 督办通知 document: numbered per year, one per unit and day it is issued."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("year", "number"), UniqueConstraint("unit_id", "issued_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    issued_on: Mapped[date] = mapped_column(Date)
    finding_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    reply_by: Mapped[date | None] = mapped_column(Date)
    file: Mapped[str] = mapped_column(String(500), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
