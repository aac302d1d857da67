"""Supervision practice steps for report tests, taken through the real services (never set by hand)."""

from __future__ import annotations

from datetime import date, datetime

import pendulum
from sqlalchemy.orm import Session

from models import Finding
from rectify.services import practice
from rectify.services.findings import SYSTEM, act
from tests.support import factory

TZ = "Asia/Shanghai"
AS_OF = date(2024, 3, 22)


def at(d: date, hour: int = 10) -> datetime:
    """That day at `hour` o'clock in the county's zone, as an aware datetime."""
    return pendulum.datetime(d.year, d.month, d.day, hour, tz=TZ)


def extend(s: Session, f: Finding, *, asked: date, new_due: date, limit: int = 1) -> None:
    req = practice.request_extension(s, f, SYSTEM, at(asked), asked, proposed=new_due, reason="资金未到位",
                                     limit=limit)
    practice.decide_extension(s, req, SYSTEM, at(asked, 15), asked, approve=True)


def refuse(s: Session, f: Finding, *, asked: date, proposed: date) -> None:
    req = practice.request_extension(s, f, SYSTEM, at(asked), asked, proposed=proposed, reason="人手不足", limit=1)
    practice.decide_extension(s, req, SYSTEM, at(asked, 15), asked, approve=False, note="理由不充分")


def close(s: Session, f: Finding, *, reported: date, verified: date | None = None, measures: str = "已整改") -> None:
    act(s, f, "report", SYSTEM, at(reported), measures=measures)
    act(s, f, "verify", SYSTEM, at(verified or reported, 16))


def confirm(s: Session, f: Finding, *, on: date) -> None:
    practice.confirm_recheck(s, f, SYSTEM, at(on), note="整改到位")


def reopen(s: Session, f: Finding, *, on: date, new_due: date) -> None:
    practice.reopen(s, f, SYSTEM, at(on), reason="回头看发现问题反弹", new_due=new_due)


def seed_county(session: Session) -> dict[str, Finding]:
    """Five findings as of AS_OF (2024-03-22, a Friday; no holidays in March), by code:

    P-1 (县财政局) due 3月15日, extended on 3月11日 to 3月29日;  P-2 (县财政局) due 3月29日, extension refused;
    P-3 (县财政局) due 3月27日, extension refused;  P-4 (城关镇) due 3月8日, extended to 3月15日, reported
    3月14日, closed 3月18日;  P-5 (城关镇) due 3月8日, closed on time 3月8日, reopened 3月20日 with 4月3日 (反弹).
    """
    r = factory.round_(session, "2024年第一轮督导")
    finance, town = factory.unit(session, "县财政局"), factory.unit(session, "城关镇", "township")
    town.sort_order = 1
    extended = factory.finding(session, unit=finance, round=r, due=date(2024, 3, 15), code="P-1")
    extend(session, extended, asked=date(2024, 3, 11), new_due=date(2024, 3, 29))
    refused = factory.finding(session, unit=finance, round=r, due=date(2024, 3, 29), code="P-2")
    refuse(session, refused, asked=date(2024, 3, 20), proposed=date(2024, 4, 10))
    refused_too = factory.finding(session, unit=finance, round=r, due=date(2024, 3, 27), code="P-3")
    refuse(session, refused_too, asked=date(2024, 3, 20), proposed=date(2024, 4, 10))
    closed_late = factory.finding(session, unit=town, round=r, due=date(2024, 3, 8), code="P-4")
    extend(session, closed_late, asked=date(2024, 3, 5), new_due=date(2024, 3, 15))
    close(session, closed_late, reported=date(2024, 3, 14), verified=date(2024, 3, 18))
    rebound = factory.finding(session, unit=town, round=r, due=date(2024, 3, 8), code="P-5")
    close(session, rebound, reported=date(2024, 3, 7), verified=date(2024, 3, 8))
    reopen(session, rebound, on=date(2024, 3, 20), new_due=date(2024, 4, 3))
    session.commit()
    return {f.code: f for f in (extended, refused, refused_too, closed_late, rebound)}
