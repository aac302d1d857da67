"""Issued bulletins (工作简报 第N期) and the closed findings each one carried."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime


class Bulletin(Base):
    __tablename__ = "bulletins"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_no: Mapped[int] = mapped_column(Integer, unique=True)
    as_of: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    items: Mapped[list[BulletinItem]] = relationship(back_populates="bulletin")


class BulletinItem(Base):
    """One closure reported in one bulletin; a closure is never reported twice."""

    __tablename__ = "bulletin_items"
    __table_args__ = (UniqueConstraint("finding_id", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    bulletin: Mapped[Bulletin] = relationship(back_populates="items")
