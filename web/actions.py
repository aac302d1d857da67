"""Write side of the form and the API: check the policy, then change the finding through
rectify.services.findings.act. The caller commits; any exception means nothing was changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from models import Evidence, Finding
from rectify.core.lifecycle import Action
from rectify.core.practice import PracticeError
from rectify.services.access import Decision, Do, Target, Viewer, decide
from rectify.services.findings import Actor, ConflictError, act, act_row, record_event
from web import evidence
from web.queries import FindingRow


class Forbidden(Exception):
    """Not this person's finding, or not their role: 403, nothing changed."""


class Missing(ValueError):
    """A required field is empty; `field` names it for the template."""

    def __init__(self, field: str):
        super().__init__(f"{field} is required")
        self.field = field


class Refused(ValueError):
    """The office's rules say no (a passed deadline, a used-up extension, a re-check not yet due...);
    `code` names the reason for the template, `status` is 400 for what was typed, 409 for the state."""

    def __init__(self, code: str, status: int = 400):
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def require(viewer: Viewer, do: Do, finding: Finding | FindingRow) -> None:
    """Forbidden when it is not theirs; ConflictError when the state moved on (someone acted first)."""
    decision = decide(viewer, do, Target.of(finding))
    if decision is Decision.FORBIDDEN:
        raise Forbidden
    if decision is Decision.NOT_NOW:
        raise ConflictError(finding)


def check_uploads(uploads: Sequence[Upload], max_bytes: int) -> list[tuple[Upload, evidence.Kind]]:
    """Every file checked before anything is written: one bad file refuses the whole report."""
    return [(u, evidence.check(u.filename, u.data, max_bytes)) for u in uploads]


def report(s: Session, finding: Finding, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
           measures: str, progress: str, uploads: Sequence[Upload] = (), evidence_dir: Path,
           max_bytes: int) -> None:
    require(viewer, Do.REPORT, finding)
    measures, progress = measures.strip(), progress.strip()
    if not measures:
        raise Missing("measures")
    if not progress:
        raise Missing("progress")
    checked = check_uploads(uploads, max_bytes)
    act(s, finding, Action.REPORT, actor, now, expected_version=version, measures=measures, progress=progress)
    if checked:
        add_evidence(s, finding, actor, now, checked, evidence_dir)


def add_evidence(s: Session, finding: Finding, actor: Actor, now: datetime,
                 checked: Sequence[tuple[Upload, evidence.Kind]], evidence_dir: Path) -> list[Evidence]:
    rows = []
    for upload, kind in checked:
        digest = evidence.store(evidence_dir, upload.data)
        row = Evidence(finding_id=finding.id, sha256=digest, filename=evidence.clean_filename(upload.filename),
                       content_type=kind.content_type, size=len(upload.data), uploaded_by_id=actor.person_id,
                       uploaded_at=now)
        s.add(row)
        rows.append(row)
    s.flush()
    record_event(s, finding, "evidence", actor, now,
                 data={"files": [{"id": r.id, "name": r.filename, "sha256": r.sha256, "size": r.size} for r in rows]})
    return rows


def verify(s: Session, finding: Finding, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
           note: str = "") -> None:
    """销号: the supervisor confirms the unit's report."""
    require(viewer, Do.VERIFY, finding)
    act(s, finding, Action.VERIFY, actor, now, expected_version=version, note=note.strip())


def reject(s: Session, finding: Finding, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
           reason: str) -> None:
    """退回: back to the unit, which must say why."""
    require(viewer, Do.REJECT, finding)
    if not reason.strip():
        raise Missing("reason")
    act(s, finding, Action.REJECT, actor, now, expected_version=version, note=reason.strip())


def verify_row(conn: Connection, finding: FindingRow, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
               note: str = "") -> None:
    """`verify` for a finding read as plain columns (web.queries.load_row): the same policy and lifecycle
    checks, one compare-and-set UPDATE and the same event (rectify.services.findings.act_row)."""
    require(viewer, Do.VERIFY, finding)
    act_row(conn, finding, Action.VERIFY, actor, now, expected_version=version, note=note.strip())


def reject_row(conn: Connection, finding: FindingRow, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
               reason: str) -> None:
    """`reject`, the same way as verify_row."""
    require(viewer, Do.REJECT, finding)
    if not reason.strip():
        raise Missing("reason")
    act_row(conn, finding, Action.REJECT, actor, now, expected_version=version, note=reason.strip())


def cancel(s: Session, finding: Finding, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
           reason: str) -> None:
    """撤销: admins only, with a reason."""
    require(viewer, Do.CANCEL, finding)
    if not reason.strip():
        raise Missing("reason")
    act(s, finding, Action.CANCEL, actor, now, expected_version=version, note=reason.strip())


class BulkConflict(Exception):
    """Some of the chosen findings changed: nothing was closed. `stale` holds their current rows."""

    def __init__(self, stale: list[Finding]):
        super().__init__(f"{len(stale)} finding(s) changed since the list was loaded")
        self.stale = stale


def bulk_verify(s: Session, viewer: Viewer, actor: Actor, now: datetime, items: Sequence[tuple[int, int]],
                note: str = "") -> int:
    """销号 several reported findings at once, all or nothing. `items` are (finding id, version seen)."""
    wanted = dict(items)
    found = {f.id: f for f in s.scalars(select(Finding).where(Finding.id.in_(wanted)))}
    if len(found) != len(wanted):
        raise Forbidden
    for f in found.values():
        if decide(viewer, Do.VERIFY, Target.of(f)) is Decision.FORBIDDEN:
            raise Forbidden
    stale = [f for fid, f in found.items()
             if f.version != wanted[fid] or decide(viewer, Do.VERIFY, Target.of(f)) is not Decision.OK]
    if stale:
        raise BulkConflict(stale)
    try:
        for fid in sorted(found):
            act(s, found[fid], Action.VERIFY, actor, now, expected_version=wanted[fid], note=note.strip())
    except ConflictError as exc:  # lost a race after the check: act() rolled the whole batch back
        raise BulkConflict([exc.finding]) from None
    except PracticeError:  # e.g. a two-level round without the head's sign-off: none is closed
        s.rollback()
        raise BulkConflict([f for f in found.values() if f.round.two_level_closure]) from None
    return len(found)
