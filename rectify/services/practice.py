"""How supervision really runs: extensions, reassignment, deadline edits, sign-off, 回头看.

Each operation checks the pure rule (rectify.core.practice), changes the finding and writes one event,
so nothing about a deadline or an owner changes silently. Callers check roles and commit.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ExtensionRequest, Finding, Unit
from rectify.core.lifecycle import Action, State
from rectify.core.practice import (
    PracticeError,
    check_deadline_edit,
    check_extension_decision,
    check_extension_request,
)
from rectify.services.findings import Actor, ConflictError, act, record_event
from rectify.services.followup import Arrival, mark_arrival


def _check_version(finding: Finding, expected: int | None) -> None:
    if expected is not None and expected != finding.version:
        raise ConflictError(finding)


def pending_extension(session: Session, finding_id: int) -> ExtensionRequest | None:
    return session.scalars(select(ExtensionRequest).where(
        ExtensionRequest.finding_id == finding_id, ExtensionRequest.state == "pending")).first()


def extension_refused(session: Session, finding_id: int) -> bool:
    """True when the latest decided request for the finding was refused (it shows as 黄)."""
    last = session.scalars(select(ExtensionRequest.state).where(
        ExtensionRequest.finding_id == finding_id, ExtensionRequest.state != "pending")
        .order_by(ExtensionRequest.id.desc())).first()
    return last == "refused"


def request_extension(session: Session, finding: Finding, actor: Actor, now: datetime, today: date, *,
                      proposed: date, reason: str, limit: int) -> ExtensionRequest:
    check_extension_request(state=finding.state, due=finding.due_date, today=today, used=finding.extensions_used,
                            limit=limit, proposed=proposed, reason=reason,
                            pending=pending_extension(session, finding.id) is not None)
    req = ExtensionRequest(finding_id=finding.id, requested_by_id=actor.person_id, requested_at=now,
                           reason=reason.strip(), previous_due=finding.due_date, proposed_due=proposed)
    session.add(req)
    session.flush()
    record_event(session, finding, "extension_request", actor, now, note=reason.strip(),
                 data={"request": req.id, "due": str(finding.due_date), "proposed": str(proposed)})
    return req


def decide_extension(session: Session, req: ExtensionRequest, actor: Actor, now: datetime, today: date, *,
                     approve: bool, chosen: date | None = None, note: str = "") -> ExtensionRequest:
    if req.state != "pending":
        raise PracticeError("this extension request has already been decided")
    finding = session.get(Finding, req.finding_id)
    new_due = check_extension_decision(approve=approve, proposed=req.proposed_due, chosen=chosen, today=today,
                                       reason=note)
    req.state = "approved" if approve else "refused"
    req.decided_by_id, req.decided_at, req.decision_note = actor.person_id, now, note.strip()
    data = {"request": req.id, "due": str(finding.due_date)}
    if new_due is not None:
        req.approved_due = new_due
        if finding.original_due_date is None:
            finding.original_due_date = finding.due_date
        finding.due_date = new_due
        finding.level = 0  # the ladder starts again from the new date
        finding.extensions_used += 1
        data["new_due"] = str(new_due)
    session.flush()
    record_event(session, finding, f"extension_{req.state}", actor, now, note=note.strip(), data=data)
    return req


def reassign(session: Session, finding: Finding, unit: Unit, actor: Actor, now: datetime, *, reason: str,
             expected_version: int | None = None, arrive: Arrival | None = None) -> None:
    """Move a finding to another owner unit; the new unit is told on the next daily run.

    With `arrive` (the day, calendar and rules) the new unit owes a fresh 签收 and the progress cadence restarts.
    """
    _check_version(finding, expected_version)
    if not reason.strip():
        raise PracticeError("reassigning a finding needs a reason")
    if unit.id == finding.unit_id:
        raise PracticeError("the finding already belongs to that unit")
    if finding.state not in (State.OPEN, State.REJECTED, State.REPORTED):
        raise PracticeError("only an unfinished finding can be reassigned")
    old = session.get(Unit, finding.unit_id)
    finding.unit_id = unit.id
    finding.handover_pending = True
    if arrive is not None:
        mark_arrival(finding, arrive.day, arrive.cal, arrive.rules)
    session.flush()
    record_event(session, finding, "reassign", actor, now, note=reason.strip(),
                 data={"from_unit": old.name if old else None, "from_unit_id": old.id if old else None,
                       "to_unit": unit.name, "to_unit_id": unit.id})


def change_deadline(session: Session, finding: Finding, new_due: date, actor: Actor, now: datetime, *,
                    reason: str, expected_version: int | None = None) -> None:
    """A deadline edit outside an extension: needs a reason, keeps the original, restarts the ladder."""
    _check_version(finding, expected_version)
    check_deadline_edit(state=finding.state, old=finding.due_date, new=new_due, reason=reason)
    old = finding.due_date
    if finding.original_due_date is None:
        finding.original_due_date = old
    finding.due_date = new_due
    finding.level = 0
    session.flush()
    record_event(session, finding, "deadline_change", actor, now, note=reason.strip(),
                 data={"due": str(old), "new_due": str(new_due)})


def sign_off(session: Session, finding: Finding, actor: Actor, now: datetime, *, note: str = "",
             expected_version: int | None = None) -> None:
    """The unit head's sign-off on the unit's report (two-level closure)."""
    _check_version(finding, expected_version)
    if finding.state != State.REPORTED:
        raise PracticeError("only a reported finding can be signed off")
    if finding.head_signed_at is not None:
        raise PracticeError("this report is already signed off")
    finding.head_signed_at, finding.head_signed_by_id = now, actor.person_id
    session.flush()
    record_event(session, finding, "signoff", actor, now, note=note.strip())


def confirm_recheck(session: Session, finding: Finding, actor: Actor, now: datetime, *, note: str = "",
                    expected_version: int | None = None) -> None:
    """回头看: the fix held; the finding stays closed."""
    _check_version(finding, expected_version)
    if finding.state != State.CLOSED:
        raise PracticeError("only a closed finding can be re-checked")
    if finding.rechecked_at is not None:
        raise PracticeError("this finding has already been re-checked")
    finding.rechecked_at = now
    session.flush()
    record_event(session, finding, "recheck_ok", actor, now, note=note.strip())


def reopen(session: Session, finding: Finding, actor: Actor, now: datetime, *, reason: str, new_due: date,
           expected_version: int | None = None) -> None:
    """回头看 found the problem back (反弹): open again with a new deadline."""
    if new_due is None:
        raise PracticeError("reopening needs a new deadline")
    old_due = finding.due_date
    act(session, finding, Action.REOPEN, actor, now, note=reason, expected_version=expected_version)
    finding.rechecked_at = now
    finding.recheck_notified_on = None
    finding.due_date = new_due
    session.flush()
    record_event(session, finding, "deadline_change", actor, now, note=reason.strip(),
                 data={"due": str(old_due), "new_due": str(new_due), "reason": "reopen"})
