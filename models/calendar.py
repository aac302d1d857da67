"""Calendar years imported from the State Council's notices: one row per year, shared by every process.

Kept in the database (not a file) so every Prefect worker and the form, on any machine, see the same
calendar. The notice's text is kept as imported, with its document number and the time of the import.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class CalendarYear(Base):
    __tablename__ = "calendar_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates: every day off the notice lists
    workdays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates: 调休 make-up working days
    document: Mapped[str] = mapped_column(String(64), default="")  # 国办发明电〔2025〕7号
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_by: Mapped[str] = mapped_column(String(254), default="")
    source_text: Mapped[str] = mapped_column(Text, default="")  # the notice as pasted, title to signature
