"""督办通知: number, render and record one notice per unit and day for the findings that reached 督办.

Rendering happens before any write: the findings are read, each notice is rendered (with the number the
year's highest suggests) into a hidden temporary file beside its final name, and only then is the
numbering lock taken (PostgreSQL: an advisory lock; SQLite: its single write lock, taken by a no-op
write) to check that nobody numbered meanwhile (if someone did, the few notices are rendered again under
the next free numbers), insert the rows and events. The lock is held to the end of the caller's
transaction, which is therefore short. The files take their final names only after the commit (an
`after_commit` hook); a rollback deletes them, so a notice file exists only for a committed notice row.
A kill between render and commit leaves hidden `.tmp` files, swept by the next issue an hour later. A
second run on the same day finds the first run's notice for the unit and returns it (the unique
(year, number) and (unit, day) constraints stay as the last guard). Each finding named gets a `notice`
event.

The daily run calls `issue_notices` with the findings that crossed the 督办 step
(`rectify.core.notices.notice_batches`) and attaches `notice_attachment(notice)` to the unit's mail.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import event, false, func, insert, select, text
from sqlalchemy.orm import Session

from models import Event, Finding, Notice, SupervisionGroup, Unit
from rectify.bulletin.notice_docx import NoticeItem, build_notice, doc_number, file_stem, notice_docx_bytes
from rectify.core.lateness import original_of
from rectify.core.notices import NoticeError, next_number, reply_by
from rectify.mail.compose import Attachment
from rectify.runtime import Runtime
from rectify.services.findings import SYSTEM

DOCX_SUBTYPE = "vnd.openxmlformats-officedocument.wordprocessingml.document"
_LOCK_KEY = 0x52454354  # pg_advisory_xact_lock(key, year): "RECT"
_CHUNK = 5000
STALE_TMP_S = 3600  # hidden files older than this were left by a killed run


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


def _existing(session: Session, day: date) -> dict[int, Notice]:
    return {n.unit_id: n for n in session.scalars(select(Notice).where(Notice.issued_on == day))}


def _highest(session: Session, year: int) -> int:
    return session.scalar(select(func.max(Notice.number)).where(Notice.year == year)) or 0


@dataclass
class _Draft:
    """One notice to be: what it says, and (once rendered) where its file waits."""

    unit_id: int
    unit: str
    ids: list[int]
    codes: list[str]
    items: list[NoticeItem]
    groups: list[str]
    number: int = 0
    doc_no: str = ""
    path: Path | None = None
    tmp: Path | None = None


def _drafts(session: Session, rt: Runtime, day: date, batches: Mapping[int, list[int]]) -> list[_Draft]:
    """Read what the notices will say: plain column reads, in chunks, no locks."""
    f = Finding
    cols = (f.id, f.unit_id, f.group_id, f.code, f.problem, f.opinion, f.due_date, f.original_due_date)
    wanted = sorted({i for ids in batches.values() for i in ids})
    rows = {}
    for i in range(0, len(wanted), _CHUNK):
        rows.update((r.id, r) for r in session.execute(select(*cols).where(f.id.in_(wanted[i:i + _CHUNK]))))
    unit_ids = sorted(batches)
    names: dict[int, str] = {}
    for i in range(0, len(unit_ids), _CHUNK):
        names.update(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids[i:i + _CHUNK]))).all())
    group_names = dict(session.execute(select(SupervisionGroup.id, SupervisionGroup.name)).all())
    cal = rt.calendar
    out = []
    for unit_id in unit_ids:
        ids = batches[unit_id]
        if unit_id not in names:
            raise NoticeError(f"unit {unit_id} does not exist")
        found = [rows[i] for i in ids if i in rows]
        foreign = [r.code for r in found if r.unit_id != unit_id]
        missing = sorted(set(ids) - {r.id for r in found})
        if foreign or missing:
            raise ValueError(f"a 督办通知 for {names[unit_id]} can only name its own findings "
                             f"(other units': {foreign}, unknown ids: {missing})")
        items = [NoticeItem(r.code, r.problem, r.opinion, original_of(r.due_date, r.original_due_date), r.due_date,
                            cal.working_days_between(r.due_date, day) if r.due_date and day > r.due_date else 0)
                 for r in found]
        groups = sorted({r.group_id for r in found if r.group_id is not None})
        out.append(_Draft(unit_id, names[unit_id], ids, [r.code for r in found], items,
                          [group_names[g] for g in groups if g in group_names]))
    return out


def _folder(rt: Runtime, year: int) -> Path:
    """The year's notice folder, made if missing: resolved once per issue, not per notice (a first day
    writes thousands)."""
    folder = notices_dir(rt, year).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _render(rt: Runtime, draft: _Draft, year: int, number: int, day: date, reply: date, folder: Path) -> None:
    """Render the notice under `number` into a hidden file beside its final name (no database involved)."""
    if draft.tmp is not None:
        draft.tmp.unlink(missing_ok=True)
    d = build_notice(issuer=rt.settings.bulletin.issuer, year=year, number=number, unit=draft.unit,
                     items=draft.items, issued_on=day, reply_by=reply, groups=draft.groups)
    draft.number, draft.doc_no = number, d.doc_no
    draft.path = folder / f"{file_stem(d.doc_no, draft.unit)}.docx"
    draft.tmp = folder / f".notice-{uuid.uuid4().hex}.tmp"
    draft.tmp.write_bytes(notice_docx_bytes(d))


def _sweep(folder: Path) -> None:
    """Remove hidden files a killed run left (older than STALE_TMP_S: a live run's are minutes old)."""
    if not folder.is_dir():
        return
    cutoff = time.time() - STALE_TMP_S
    for p in folder.glob(".notice-*.tmp"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass


_PENDING = "rectify.notice_files"


def _on_commit(session: Session, drafts: list[_Draft]) -> None:
    """Give the files their final names after the commit; delete them when the transaction ends otherwise
    (rollback, close)."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []

        def commit(s: Session) -> None:
            for d in s.info.get(_PENDING, []):
                os.replace(d.tmp, d.path)
            s.info[_PENDING] = []

        def ended(s: Session, transaction) -> None:
            if transaction.parent is None:
                for d in s.info.get(_PENDING, []):
                    d.tmp.unlink(missing_ok=True)
                s.info[_PENDING] = []

        event.listen(session, "after_commit", commit)
        event.listen(session, "after_transaction_end", ended)
    pending.extend(d for d in drafts if d.tmp is not None and d.path is not None)


def issue_notices(session: Session, rt: Runtime, today: date, now: datetime,
                  finding_ids_by_unit: Mapping[int, Iterable[int]]) -> list[Notice]:
    """One numbered 督办通知 per unit for `today`, listing the given findings; the caller commits (and the
    files appear under their names once it has).

    A unit that already has today's notice gets that notice back (same number, nothing new written).
    """
    batches = {unit: sorted(set(ids)) for unit, ids in finding_ids_by_unit.items()}
    batches = {unit: ids for unit, ids in batches.items() if ids}
    if not batches:
        return []
    year = today.year
    _sweep(notices_dir(rt, year))
    reply = reply_by(today, rt.calendar, rt.settings.supervision.notice_reply_working_days)
    seen = _existing(session, today)
    drafts = _drafts(session, rt, today, {u: ids for u, ids in batches.items() if u not in seen})
    base = _highest(session, year)
    folder = _folder(rt, year)
    try:
        for i, d in enumerate(drafts):  # rendered before any lock is taken
            _render(rt, d, year, next_number([base] if base else []) + i, today, reply, folder)
        _lock_numbering(session, year)
        seen = _existing(session, today)  # another run may have issued meanwhile: theirs stand
        for d in [d for d in drafts if d.unit_id in seen]:
            if d.tmp is not None:
                d.tmp.unlink(missing_ok=True)
        drafts = [d for d in drafts if d.unit_id not in seen]
        now_base = _highest(session, year)
        if now_base != base:  # numbers moved on: render again under the free ones (rare, and cheap)
            for i, d in enumerate(drafts):
                _render(rt, d, year, now_base + i + 1, today, reply, folder)
        notices = _insert(session, drafts, year, today, now, reply)
    except BaseException:
        for d in drafts:
            if d.tmp is not None:
                d.tmp.unlink(missing_ok=True)
        raise
    _on_commit(session, drafts)
    out = []
    for unit_id in sorted(batches):
        notice = seen.get(unit_id) or notices[unit_id]
        if unit_id in seen and not Path(notice.file).is_file():  # the data folder lost it: render it again
            _rerender(session, rt, notice)
        out.append(notice)
    return out


def _insert(session: Session, drafts: list[_Draft], year: int, today: date, now: datetime,
            reply: date) -> dict[int, Notice]:
    notices = {}
    for d in drafts:
        assert d.path is not None
        notices[d.unit_id] = Notice(year=year, number=d.number, unit_id=d.unit_id, issued_on=today,
                                    finding_ids=d.ids, reply_by=reply, file=str(d.path),
                                    meta={"doc_no": d.doc_no, "unit": d.unit, "codes": d.codes})
    session.add_all(notices.values())
    session.flush()
    events = ({"finding_id": fid, "at": now, "kind": "notice", "actor": SYSTEM.label, "actor_id": SYSTEM.person_id,
               "ip": SYSTEM.ip, "from_state": None, "to_state": None, "note": d.doc_no,
               "data": {"notice": notices[d.unit_id].id, "year": year, "number": d.number, "reply_by": str(reply)}}
              for d in drafts for fid in d.ids)
    while chunk := list(islice(events, _CHUNK)):  # built chunk by chunk: a million-finding first day names ~150k
        session.execute(insert(Event), chunk)
    return notices


def _rerender(session: Session, rt: Runtime, notice: Notice) -> None:
    """Write a committed notice's lost file again under its number (atomically: it names a committed row)."""
    (d,) = _drafts(session, rt, notice.issued_on, {notice.unit_id: list(notice.finding_ids)})
    _render(rt, d, notice.year, notice.number, notice.issued_on, notice.reply_by or notice.issued_on,
            _folder(rt, notice.year))
    assert d.tmp is not None
    os.replace(d.tmp, notice.file)


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
