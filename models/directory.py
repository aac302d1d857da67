"""Who is who: units (责任单位), people, inspection rounds and supervision groups (督导组)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, utcnow


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(20), default="county")  # county (县直单位) / township (乡镇街道)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    people: Mapped[list[Person]] = relationship(back_populates="unit")


class SupervisionGroup(Base):
    __tablename__ = "supervision_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # 第一督导组
    members: Mapped[list[Person]] = relationship(back_populates="group")


class Round(Base):
    """An inspection round (督导轮次)."""

    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    started_on: Mapped[date | None] = mapped_column(Date)
    # Two-level closure: the unit head signs the report off before the supervisor verifies.
    two_level_closure: Mapped[bool] = mapped_column(Boolean, default=False)


class Person(Base):
    """Anyone who receives mail or signs in. Roles: admin, supervisor, unit_contact, unit_leader."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)  # stored lower-case
    role: Mapped[str] = mapped_column(String(20), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_groups.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where else a letter can reach them (issue 16): none of these is an identity, the e-mail stays that.
    mobile: Mapped[str | None] = mapped_column(String(20))  # digits, for SMS (手机)
    wecom_userid: Mapped[str | None] = mapped_column(String(64))  # 企业微信账号 (userid in the corp directory)
    dingtalk_userid: Mapped[str | None] = mapped_column(String(64))  # 钉钉账号 (userid in the org)
    # Sign-in links and sessions issued before this instant are void: moved by signing out (everywhere),
    # `rectify people revoke` and deactivation (issue 13).
    valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by `rectify people deactivate` (the person left): a units import never reactivates them;
    # only `rectify people add` does, on purpose. An import's own retirements leave it empty.
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit | None] = relationship(back_populates="people")
    group: Mapped[SupervisionGroup | None] = relationship(back_populates="members")


class ApiToken(Base):
    """A bearer token for the JSON API (`rectify api-token`): listed and revoked one by one.

    The signed token carries this row's id; the row says whether it still counts.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(200), default="")

    person: Mapped[Person] = relationship()
