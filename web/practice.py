"""Write side of the supervision practice for the form and the API: 延期 requests and decisions,
reassignment, deadline edits, the unit head's sign-off and 回头看.

Each function checks the access policy, the version the form was loaded with, and what was typed, then
calls rectify.services.practice (which checks the office's rules again and writes the event). The caller
commits; any exception means nothing was changed. Requests and decisions lock the finding's row first,
so two at once (two tabs, two supervisors) cannot both pass the "none pending" check.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import Finding, Unit
from rectify.core.practice import PracticeError
from rectify.core.workcal import CalendarError, WorkCalendar
from rectify.runtime import Runtime
from rectify.services import practice
from rectify.services.access import Decision, Do, Target, Viewer, decide
from rectify.services.findings import Actor, ConflictError
from rectify.services.followup import Arrival
from web.actions import BulkConflict, Forbidden, Missing, Refused, require
from web.numbers import parse_int
from web.supervision import extension_block, recheck_on


def parse_day(raw: str, field: str) -> date:
    """A date from a form or JSON field (YYYY-MM-DD, as <input type=date> sends it)."""
    raw = raw.strip()
    if not raw:
        raise Missing(field)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Refused("bad_date") from None


def _known(cal: WorkCalendar, day: date) -> date:
    """A deadline the working-day calendar can count to; a later year would stop the ladder and colours."""
    try:
        cal.is_working_day(day)
    except CalendarError:
        raise Refused("beyond_calendar") from None
    return day


def _fresh(s: Session, f: Finding, version: int) -> None:
    """Lock the finding's row (PostgreSQL; SQLite writers already queue on the app's lock), re-read it,
    and refuse a form loaded from an older version."""
    s.execute(select(Finding.id).where(Finding.id == f.id).with_for_update())
    s.refresh(f)
    if f.version != version:
        raise ConflictError(f)


@contextmanager
def _guard(s: Session, f: Finding) -> Iterator[None]:
    """A rule the pre-checks here did not foresee is refused as a conflict ("rule"); a row changed
    underneath the UPDATE (StaleDataError) is a ConflictError. Nothing is written either way."""
    try:
        yield
    except PracticeError:
        s.rollback()
        raise Refused("rule", 409) from None
    except StaleDataError:
        s.rollback()
        raise ConflictError(s.get(Finding, f.id) or f) from None


def request_extension(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, today: date, *,
                      version: int, proposed: str, reason: str, limit: int, cal: WorkCalendar) -> None:
    """延期申请: only before the deadline, with a reason and a later date, under the limit, one at a time."""
    require(viewer, Do.EXTEND, f)
    _fresh(s, f, version)
    block = extension_block(f, today, pending=practice.pending_extension(s, f.id) is not None, limit=limit)
    if block:
        raise Refused(block, 409)
    if not reason.strip():
        raise Missing("ext_reason")
    day = _known(cal, parse_day(proposed, "proposed"))
    if f.due_date is not None and day <= f.due_date:
        raise Refused("date_not_later")
    with _guard(s, f):
        practice.request_extension(s, f, actor, now, today, proposed=day, reason=reason, limit=limit)


def decide_extension(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, today: date, *,
                     version: int, request_id: int | None, approve: bool, cal: WorkCalendar, chosen: str = "",
                     note: str = "") -> None:
    """Approve (optionally with another date) or refuse (reason required) the pending request."""
    require(viewer, Do.DECIDE_EXTENSION, f)
    _fresh(s, f, version)
    req = practice.pending_extension(s, f.id)
    if req is None or (request_id is not None and req.id != request_id):
        raise ConflictError(f)  # decided meanwhile, or not the request the form showed
    day = None
    if approve:
        day = _known(cal, parse_day(chosen, "approved_due") if chosen.strip() else req.proposed_due)
        if day < today:
            raise Refused("date_past")
        if f.due_date is not None and day <= f.due_date:
            raise Refused("date_not_later")
    elif not note.strip():
        raise Missing("decision_note")
    with _guard(s, f):
        practice.decide_extension(s, req, actor, now, today, approve=approve, chosen=day, note=note)


def reassign(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, *, version: int, unit_id: str,
             reason: str, arrive: Arrival | None = None) -> None:
    """Move the finding to another owner unit (admins), with a reason."""
    require(viewer, Do.REASSIGN, f)
    if not reason.strip():
        raise Missing("move_reason")
    uid = parse_int(unit_id.strip())
    unit = s.get(Unit, uid) if uid is not None else None
    if unit is None or unit.id == f.unit_id:
        raise Refused("other_unit")
    with _guard(s, f):
        practice.reassign(s, f, unit, actor, now, reason=reason, expected_version=version, arrive=arrive)


def change_deadline(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
                    new_due: str, reason: str, cal: WorkCalendar) -> None:
    """A deadline edit outside an extension (admins, the finding's supervisors): never without a reason."""
    require(viewer, Do.DEADLINE, f)
    if not reason.strip():
        raise Missing("deadline_reason")
    day = _known(cal, parse_day(new_due, "new_due"))
    if day == f.due_date:
        raise Refused("same_date")
    with _guard(s, f):
        practice.change_deadline(s, f, day, actor, now, reason=reason, expected_version=version)


def _check_sign_off(f: Finding) -> None:
    if not f.round.two_level_closure:
        raise Refused("not_two_level", 409)
    if f.head_signed_at is not None:
        raise Refused("already_signed", 409)


def sign_off(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, *, version: int,
             note: str = "") -> None:
    """The unit head's sign-off on the unit's report, before the supervisor may close it."""
    require(viewer, Do.SIGN_OFF, f)
    _check_sign_off(f)
    with _guard(s, f):
        practice.sign_off(s, f, actor, now, note=note, expected_version=version)


def bulk_sign_off(s: Session, viewer: Viewer, actor: Actor, now: datetime, items: Sequence[tuple[int, int]],
                  note: str = "") -> int:
    """Sign several reports off from the list, all or nothing. `items` are (finding id, version seen)."""
    wanted = dict(items)
    found = {f.id: f for f in s.scalars(select(Finding).where(Finding.id.in_(wanted)))}
    if len(found) != len(wanted):
        raise Forbidden
    if any(decide(viewer, Do.SIGN_OFF, Target.of(f)) is Decision.FORBIDDEN for f in found.values()):
        raise Forbidden
    stale = [f for fid, f in found.items()
             if f.version != wanted[fid] or decide(viewer, Do.SIGN_OFF, Target.of(f)) is not Decision.OK
             or not f.round.two_level_closure or f.head_signed_at is not None]
    if stale:
        raise BulkConflict(stale)
    try:
        for fid in sorted(found):
            with _guard(s, found[fid]):
                practice.sign_off(s, found[fid], actor, now, note=note, expected_version=wanted[fid])
    except ConflictError as exc:  # lost a race after the check: nothing of the batch is kept
        s.rollback()
        raise BulkConflict([exc.finding]) from None
    return len(found)


def recheck(s: Session, f: Finding, viewer: Viewer, actor: Actor, now: datetime, today: date, rt: Runtime, *,
            version: int, reopen: bool, note: str = "", new_due: str = "") -> None:
    """回头看 by whoever closed it (or an admin): the fix held, or the problem is back (反弹) and the
    finding opens again with a new deadline and a reason."""
    require(viewer, Do.RECHECK, f)
    if f.rechecked_at is not None:
        raise Refused("already_rechecked", 409)
    due_on = recheck_on(f, rt)
    if due_on is None or due_on > today:
        raise Refused("recheck_not_due", 409)
    if not reopen:
        with _guard(s, f):
            practice.confirm_recheck(s, f, actor, now, note=note, expected_version=version)
        return
    if not note.strip():
        raise Missing("recheck_note")
    day = _known(rt.calendar, parse_day(new_due, "reopen_due"))
    if day < today:
        raise Refused("date_past")
    with _guard(s, f):
        practice.reopen(s, f, actor, now, reason=note, new_due=day, expected_version=version)
