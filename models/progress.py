"""阶段性进展 (progress reports) a unit owes on long work; see rectify.core.progress for when."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ProgressReport(Base):
    """One progress report: the text, its evidence and the due day it answered (on time or late)."""

    __tablename__ = "progress_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)  # evidence ids, like a report's
    due_on: Mapped[date] = mapped_column(Date)
    on_time: Mapped[bool] = mapped_column(Boolean)
