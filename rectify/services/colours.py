"""Colours from the database in bulk: one query for refused extensions, then the pure rule per finding.

`rectify.services.practice.extension_refused` answers for one finding; lists and reports use
`refused_extension_ids` (one query) and `rectify.core.palette.Palette` instead of asking per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import ExtensionRequest, Finding
from rectify.core.palette import Palette
from rectify.runtime import Runtime

_CHUNK = 5000  # ids per IN (...) list, well under SQLite's bound-parameter limit


def refused_extension_ids(session: Session, finding_ids: Iterable[int] | None = None) -> set[int]:
    """Findings whose latest decided extension request was refused (they show 黄 until late or red)."""
    latest = (select(func.max(ExtensionRequest.id).label("id"))
              .where(ExtensionRequest.state != "pending").group_by(ExtensionRequest.finding_id).subquery())
    q = (select(ExtensionRequest.finding_id).join(latest, latest.c.id == ExtensionRequest.id)
         .where(ExtensionRequest.state == "refused"))
    if finding_ids is None:
        return set(session.scalars(q))
    ids = list(dict.fromkeys(finding_ids))
    out: set[int] = set()
    for i in range(0, len(ids), _CHUNK):
        out.update(session.scalars(q.where(ExtensionRequest.finding_id.in_(ids[i:i + _CHUNK]))))
    return out


def palette(rt: Runtime, today: date) -> Palette:
    """The office's colour rule for `today` (settings.supervision, the runtime's calendar and ladder)."""
    return Palette.from_settings(rt.settings.supervision, today=today, cal=rt.calendar, ladder=rt.ladder)


def finding_colours(session: Session, rt: Runtime, today: date,
                    finding_ids: Iterable[int] | None = None) -> dict[int, str | None]:
    """Colour of each unfinished finding (all of them, or those given) on `today`; others are absent."""
    q = (select(Finding.id, Finding.state, Finding.due_date, Finding.level)
         .where(Finding.state.in_(("open", "rejected"))))
    ids = None if finding_ids is None else list(dict.fromkeys(finding_ids))
    rows = []
    if ids is None:
        rows = list(session.execute(q))
    else:
        for i in range(0, len(ids), _CHUNK):
            rows.extend(session.execute(q.where(Finding.id.in_(ids[i:i + _CHUNK]))))
    refused = refused_extension_ids(session, ids)
    p = palette(rt, today)
    return {r.id: p.finding(state=r.state, due=r.due_date, level=r.level, extension_refused=r.id in refused)
            for r in rows}


def unit_colours(session: Session, rt: Runtime, today: date) -> dict[int, str | None]:
    """Each unit's colour on `today` (worst finding; `yellows_make_red` yellows make red); units owing nothing
    are absent."""
    q = select(Finding.id, Finding.unit_id, Finding.state, Finding.due_date, Finding.level).where(
        Finding.state.in_(("open", "rejected")))
    refused = refused_extension_ids(session)
    p = palette(rt, today)
    pairs = ((r.unit_id, p.finding(state=r.state, due=r.due_date, level=r.level, extension_refused=r.id in refused))
             for r in session.execute(q))
    return p.units(pairs)  # type: ignore[return-value]
