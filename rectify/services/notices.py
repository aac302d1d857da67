"""督办通知: number, render and record one notice per unit and day for the findings that reached 督办.

Numbers are allocated per year under a lock held to the end of the caller's transaction (PostgreSQL: an
advisory lock; SQLite: its single write lock, taken by a no-op write), so two runs at once never pick the
same number, and a second run on the same day finds the first run's notice for the unit and returns it
(the unique (year, number) and (unit, day) constraints stay as the last guard). The DOCX is written under
`data_dir/notices/<year>/` before the caller commits; if the caller rolls back, the file stays behind and
is overwritten by whichever notice takes that number next. Each finding named gets a `notice` event.

The daily run calls `issue_notices` with the findings that crossed the 督办 step
(`rectify.core.notices.notice_batches`) and attaches `notice_attachment(notice)` to the unit's mail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import false, func, select, text
from sqlalchemy.orm import Session

from models import Finding, Notice, SupervisionGroup, Unit
from rectify.bulletin.notice_docx import NoticeItem, build_notice, doc_number, file_stem, write_notice_docx
from rectify.core.lateness import original_of
from rectify.core.notices import NoticeError, next_number, reply_by
from rectify.mail.compose import Attachment
from rectify.runtime import Runtime
from rectify.services.findings import SYSTEM, record_event

DOCX_SUBTYPE = "vnd.openxmlformats-officedocument.wordprocessingml.document"
_LOCK_KEY = 0x52454354  # pg_advisory_xact_lock(key, year): "RECT"


def notices_dir(rt: Runtime, year: int) -> Path:
    return rt.settings.data_dir / "notices" / str(year)


def _lock_numbering(session: Session, year: int) -> None:
    """Serialise numbering for `year` until the caller's transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key, :year)"), {"key": _LOCK_KEY, "year": year})
    elif dialect == "sqlite":  # any write takes SQLite's one write lock; this one changes nothing
        table = Notice.__table__
        session.execute(table.update().where(false()).values(number=table.c.number))


def _existing(session: Session, unit_id: int, day: date) -> Notice | None:
    return session.scalars(select(Notice).where(Notice.unit_id == unit_id, Notice.issued_on == day)).first()


def issue_notices(session: Session, rt: Runtime, today: date, now: datetime,
                  finding_ids_by_unit: Mapping[int, Iterable[int]]) -> list[Notice]:
    """One numbered 督办通知 per unit for `today`, listing the given findings; the caller commits.

    A unit that already has today's notice gets that notice back (same number, nothing new written).
    """
    batches = {unit: sorted(set(ids)) for unit, ids in finding_ids_by_unit.items()}
    batches = {unit: ids for unit, ids in batches.items() if ids}
    if not batches:
        return []
    _lock_numbering(session, today.year)
    out: list[Notice] = []
    for unit_id in sorted(batches):
        notice = _existing(session, unit_id, today)
        if notice is None:
            notice = _issue(session, rt, today, now, unit_id, batches[unit_id])
        elif not Path(notice.file).is_file():  # the data folder lost it: render it again under its number
            _render(session, rt, notice)
        out.append(notice)
    return out


def _issue(session: Session, rt: Runtime, today: date, now: datetime, unit_id: int, ids: list[int]) -> Notice:
    year = today.year
    highest = session.scalar(select(func.max(Notice.number)).where(Notice.year == year))
    number = next_number([highest] if highest else [])
    notice = Notice(year=year, number=number, unit_id=unit_id, issued_on=today, finding_ids=ids,
                    reply_by=reply_by(today, rt.calendar, rt.settings.supervision.notice_reply_working_days),
                    file="", meta={})
    session.add(notice)
    session.flush()
    findings = _render(session, rt, notice)
    doc_no = notice.meta["doc_no"]
    for f in findings:
        record_event(session, f, "notice", SYSTEM, now, note=doc_no,
                     data={"notice": notice.id, "year": year, "number": number, "reply_by": str(notice.reply_by)})
    session.flush()
    return notice


def _render(session: Session, rt: Runtime, notice: Notice) -> list[Finding]:
    """Write the notice's DOCX (atomically) and store its path and summary on the row."""
    ids = list(notice.finding_ids)
    unit = session.get(Unit, notice.unit_id)
    if unit is None:
        raise NoticeError(f"unit {notice.unit_id} does not exist")
    findings = list(session.scalars(select(Finding).where(Finding.id.in_(ids)).order_by(Finding.id)))
    foreign = [f.code for f in findings if f.unit_id != unit.id]
    missing = sorted(set(ids) - {f.id for f in findings})
    if foreign or missing:
        raise ValueError(f"a 督办通知 for {unit.name} can only name its own findings "
                         f"(other units': {foreign}, unknown ids: {missing})")
    group_ids = {f.group_id for f in findings if f.group_id is not None}
    groups = list(session.scalars(select(SupervisionGroup.name).where(SupervisionGroup.id.in_(group_ids))
                                  .order_by(SupervisionGroup.id))) if group_ids else []
    day = notice.issued_on
    items = [NoticeItem(f.code, f.problem, f.opinion, original_of(f.due_date, f.original_due_date), f.due_date,
                        rt.calendar.working_days_between(f.due_date, day) if f.due_date and day > f.due_date else 0)
             for f in findings]
    d = build_notice(issuer=rt.settings.bulletin.issuer, year=notice.year, number=notice.number, unit=unit.name,
                     items=items, issued_on=day, reply_by=notice.reply_by or day, groups=groups)
    folder = notices_dir(rt, notice.year)
    path = (folder / f"{file_stem(d.doc_no, unit.name)}.docx").resolve()
    tmp = folder / f".{path.stem}.{uuid.uuid4().hex}.tmp"
    try:
        write_notice_docx(d, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    notice.file = str(path)
    notice.meta = {"doc_no": d.doc_no, "unit": unit.name, "codes": [f.code for f in findings]}
    session.flush()
    return findings


def notice_attachment(notice: Notice) -> Attachment:
    """The notice's DOCX for the unit's mail (rectify.mail.compose.build_message(attachments=...))."""
    path = Path(notice.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NoticeError(f"督办通知{notice_number(notice)}: cannot read {path}: {exc.strerror}") from None
    return Attachment(filename=path.name, data=data, subtype=DOCX_SUBTYPE)


def notice_number(notice: Notice) -> str:
    """〔2024〕3号, as printed on the notice."""
    return notice.meta.get("doc_no") or doc_number(notice.year, notice.number)


def list_notices(session: Session, year: int | None = None) -> list[tuple[Notice, str]]:
    """Notices (of one year, or all), oldest first, each with its unit's name."""
    q = select(Notice, Unit.name).join(Unit, Unit.id == Notice.unit_id).order_by(Notice.year, Notice.number)
    if year is not None:
        q = q.where(Notice.year == year)
    return [(n, name) for n, name in session.execute(q)]


def find_notice(session: Session, year: int, number: int) -> Notice:
    notice = session.scalars(select(Notice).where(Notice.year == year, Notice.number == number)).first()
    if notice is None:
        raise NoticeError(f"there is no 督办通知 number {number} of {year}")
    return notice
