"""Findings (督导发现的问题), their append-only event log and evidence files."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, utcnow
from models.directory import Person, Round, SupervisionGroup, Unit


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_state_due", "state", "due_date"),  # the daily run's query
        Index("ix_findings_unit_state", "unit_id", "state"),
        Index("ix_findings_group_state", "group_id", "state"),
        Index("ix_findings_round_unit_problem", "round_id", "unit_id", "problem_key"),  # re-import match
        # 回头看 and "closed this week": closures by time (partial: open findings are not in it; 0008)
        Index("ix_findings_closed_at", "closed_at", sqlite_where=text("closed_at IS NOT NULL"),
              postgresql_where=text("closed_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # 编号, stable across re-imports
    seq: Mapped[int | None] = mapped_column(Integer)  # 序号 as typed
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_groups.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    inspected_on: Mapped[date] = mapped_column(Date)
    problem: Mapped[str] = mapped_column(Text)  # kept as typed; escaped wherever shown
    problem_key: Mapped[str] = mapped_column(String(64))  # hash of the normalised problem text
    opinion: Mapped[str] = mapped_column(Text, default="")
    owner_name: Mapped[str] = mapped_column(String(100), default="")  # 责任人
    note: Mapped[str] = mapped_column(Text, default="")  # 备注

    deadline_kind: Mapped[str] = mapped_column(String(20))  # rectify.core.deadlines.DeadlineKind
    deadline_days: Mapped[int | None] = mapped_column(Integer)
    deadline_text: Mapped[str] = mapped_column(String(100), default="")  # the cell as typed
    due_date: Mapped[date | None] = mapped_column(Date)  # current deadline; None for 长期坚持
    original_due_date: Mapped[date | None] = mapped_column(Date)  # never moved by extensions

    state: Mapped[str] = mapped_column(String(20), default="open")
    level: Mapped[int] = mapped_column(Integer, default=0)  # ladder steps fired so far
    last_review_on: Mapped[date | None] = mapped_column(Date)  # long-term review, 回头看
    extensions_used: Mapped[int] = mapped_column(Integer, default=0)
    handover_pending: Mapped[bool] = mapped_column(Boolean, default=False)  # reassigned: tell the new unit

    # Two-level closure: the unit head's sign-off on the report (reset when the report is sent back).
    head_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    head_signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # 回头看: due a configured number of working days after closed_at (derived, not stored);
    # the closer is told once (recheck_notified_on) and answers (rechecked_at); reopen_count counts 反弹.
    recheck_notified_on: Mapped[date | None] = mapped_column(Date)
    rechecked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)

    # 签收: the unit acknowledges a new or reassigned finding by ack_due_on (a working day); an
    # unacknowledged one past it is listed to the group once (ack_overdue_notified_on).
    ack_due_on: Mapped[date | None] = mapped_column(Date)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    ack_overdue_notified_on: Mapped[date | None] = mapped_column(Date)
    # 进展反馈: the next 阶段性进展 due day on long work (None when none is owed).
    progress_due_on: Mapped[date | None] = mapped_column(Date)

    measures: Mapped[str] = mapped_column(Text, default="")  # 整改措施
    progress: Mapped[str] = mapped_column(Text, default="")  # 完成情况
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    round: Mapped[Round] = relationship()
    group: Mapped[SupervisionGroup | None] = relationship()
    unit: Mapped[Unit] = relationship()
    closed_by: Mapped[Person | None] = relationship(foreign_keys=[closed_by_id])
    acknowledged_by: Mapped[Person | None] = relationship(foreign_keys=[acknowledged_by_id])
    events: Mapped[list[Event]] = relationship(back_populates="finding", order_by="Event.id")
    evidence: Mapped[list[Evidence]] = relationship(back_populates="finding", order_by="Evidence.id")

    # Optimistic locking: every ORM update checks and bumps `version`; a stale form fails.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Event(Base):
    """Append-only audit log: transitions, escalations, imports, edits."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor: Mapped[str] = mapped_column(String(254), default="system")  # who, readable even if the person goes
    ip: Mapped[str] = mapped_column(String(64), default="")
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    finding: Mapped[Finding] = relationship(back_populates="events")


@event.listens_for(Event, "before_update")
@event.listens_for(Event, "before_delete")
def _events_are_append_only(mapper: object, connection: object, target: Event) -> None:
    raise ValueError("the event log is append-only")


class Evidence(Base):
    """An uploaded file, stored under the data folder by its SHA-256."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    finding: Mapped[Finding] = relationship(back_populates="evidence")
