"""签收 and 进展反馈 on the form and the JSON API: what the finding page shows, and the write side.

The write side checks the form's version and what was typed, then calls rectify.services.followup (which
checks the access policy and the rules again and writes the events). The caller commits; any exception
means nothing was changed. Evidence of a progress report is checked and stored like a report's (web.evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Evidence, Finding, Person, ProgressReport
from rectify.core.followup import FollowupRules
from rectify.core.practice import PracticeError
from rectify.runtime import Runtime
from rectify.services import followup
from rectify.services.access import Viewer
from rectify.services.findings import Actor
from web.actions import Forbidden, Missing, Refused, Upload, add_evidence, check_uploads


@dataclass
class FollowupView:
    """What the finding page shows of 签收 and 进展反馈."""

    waits: bool = False  # 待签收
    ack_due: date | None = None
    ack_late: bool = False  # past its day, still not acknowledged
    acknowledged_by: str = ""
    progress_due: date | None = None
    progress_late: bool = False
    reports: list[dict[str, Any]] = field(default_factory=list)


def followup_of(s: Session, f: Finding, today: date, known: dict[int, str] | None = None,
                has_reports: bool = True) -> FollowupView:
    """`known`: names the page has already read (web.supervision.practice_of); only the others are queried.
    `has_reports` False: the page knows there is no progress report (web.queries.load_page)."""
    reports = followup.progress_reports(s, f.id) if has_reports else []
    names = dict(known or {})
    ids = {r.person_id for r in reports if r.person_id} | ({f.acknowledged_by_id} if f.acknowledged_by_id else set())
    ids -= names.keys()
    if ids:
        names.update((pid, name) for pid, name in s.execute(select(Person.id, Person.name).where(Person.id.in_(ids))))
    files = {e.id: e for e in s.scalars(select(Evidence).where(Evidence.finding_id == f.id))} if reports else {}
    waits = followup.waits_for_ack(f)
    return FollowupView(
        waits=waits, ack_due=f.ack_due_on, ack_late=waits and f.ack_due_on is not None and today > f.ack_due_on,
        acknowledged_by=names.get(f.acknowledged_by_id, "") if f.acknowledged_by_id else "",
        progress_due=f.progress_due_on if f.state in ("open", "rejected") else None,
        progress_late=f.state in ("open", "rejected") and f.progress_due_on is not None and today > f.progress_due_on,
        reports=[{"r": r, "by": names.get(r.person_id, "") if r.person_id else "",
                  "files": [files[i] for i in r.evidence if i in files]} for r in reversed(reports)])


def _rules(fn):
    """PracticeError from the services is a refusal the page words; NotAllowed is a 403."""
    def wrapped(*args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except followup.NotAllowed:
            raise Forbidden from None
        except PracticeError as exc:
            raise Refused(_code(str(exc)), 409) from None
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _code(message: str) -> str:
    if "does not wait" in message:
        return "not_waiting_ack"
    if "owes no progress" in message:
        return "no_progress_due"
    return "rule"


@_rules
def acknowledge(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, today: date, *,
                version: int) -> None:
    """签收 one finding (the finding page's button, the mail link's page, the API)."""
    followup.acknowledge(s, f, viewer, actor, now, today, expected_version=version)


@_rules
def acknowledge_all(s: Session, viewer: Viewer, actor: Actor, now: datetime, today: date) -> int:
    """一键签收: every finding of the viewer's unit that waits for 签收."""
    return len(followup.acknowledge_all(s, viewer, actor, now, today))


@_rules
def report_progress(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, today: date, rt: Runtime,
                    *, version: int, text: str, uploads: Sequence[Upload] = (), evidence_dir: Path,
                    max_bytes: int) -> ProgressReport:
    """阶段性进展: text (required) and optional evidence files, all checked before anything is written."""
    if not text.strip():
        raise Missing("progress_text")
    if len(text.strip()) > followup.TEXT_LIMIT:
        raise Refused("progress_too_long")
    checked = check_uploads(uploads, max_bytes)
    if checked and not followup.may_report_progress(viewer, f):
        raise Forbidden  # before any file is stored for someone who may not report
    rows = add_evidence(s, f, actor, now, checked, evidence_dir) if checked else []
    return followup.submit_progress(s, f, viewer, actor, now, today, rt.calendar,
                                    FollowupRules.of(rt.settings.supervision), text=text,
                                    evidence_ids=[r.id for r in rows], expected_version=version)
