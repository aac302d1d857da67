"""The supervision-practice forms on the finding page: 延期申请 and its decision, reassignment, deadline
edits, the unit head's sign-off (one or several from the list) and 回头看.

Same flow as the lifecycle forms (web.routes_findings._do): session, CSRF, version, web.practice writes,
commit, redirect; a refused form is shown again with what was typed and why.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from models import Finding
from rectify.core.followup import FollowupRules
from rectify.services.followup import Arrival
from web import practice
from web.auth import Me, now
from web.numbers import Id, parse_int
from web.routes_findings import _do, _read_form, _rt, _text_fields, bulk

router = APIRouter(include_in_schema=False)


def _today(request: Request) -> date:
    return now(request).astimezone(_rt(request).tz).date()


@router.post("/findings/{finding_id}/extension")
async def post_extension(finding_id: Id, request: Request) -> Response:
    """The unit contact asks for more time: a later date and a reason, before the deadline."""
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "proposed", "ext_reason")
    at, today = now(request), _today(request)
    limit = _rt(request).settings.supervision.max_extensions

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        practice.request_extension(s, f, me.viewer, me.actor, at, today, version=version,
                                   proposed=fields["proposed"], reason=fields["ext_reason"], limit=limit,
                                   cal=_rt(request).calendar)

    return await run_in_threadpool(_do, request, finding_id, fields, work, "extension")


@router.post("/findings/{finding_id}/extension/decide")
async def post_extension_decision(finding_id: Id, request: Request) -> Response:
    """One form, two buttons: 同意 (decision=approve, another date optional) or 不同意 (reason required)."""
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "request", "decision",
                          "approved_due", "decision_note")
    at, today = now(request), _today(request)
    approve = fields["decision"] != "refuse"
    request_id = parse_int(fields["request"])

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        practice.decide_extension(s, f, me.viewer, me.actor, at, today, version=version, request_id=request_id,
                                  approve=approve, cal=_rt(request).calendar,
                                  chosen=fields["approved_due"] if approve else "",
                                  note=fields["decision_note"])

    return await run_in_threadpool(_do, request, finding_id, fields, work,
                                   "extension_approved" if approve else "extension_refused")


@router.post("/findings/{finding_id}/reassign")
async def post_reassign(finding_id: Id, request: Request) -> Response:
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "unit", "move_reason")
    at, rt = now(request), _rt(request)
    arrive = Arrival(_today(request), rt.calendar, FollowupRules.of(rt.settings.supervision))  # a new 签收

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        practice.reassign(s, f, me.viewer, me.actor, at, version=version, unit_id=fields["unit"],
                          reason=fields["move_reason"], arrive=arrive)

    return await run_in_threadpool(_do, request, finding_id, fields, work, "reassign")


@router.post("/findings/{finding_id}/deadline")
async def post_deadline(finding_id: Id, request: Request) -> Response:
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "new_due", "deadline_reason")
    at = now(request)

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        practice.change_deadline(s, f, me.viewer, me.actor, at, version=version, new_due=fields["new_due"],
                                 reason=fields["deadline_reason"], cal=_rt(request).calendar)

    return await run_in_threadpool(_do, request, finding_id, fields, work, "deadline")


@router.post("/findings/{finding_id}/signoff")
async def post_sign_off(finding_id: Id, request: Request) -> Response:
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "signoff_note")
    at = now(request)

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        practice.sign_off(s, f, me.viewer, me.actor, at, version=version, note=fields["signoff_note"])

    return await run_in_threadpool(_do, request, finding_id, fields, work, "signoff")


@router.post("/findings/bulk-signoff")
async def post_bulk_sign_off(request: Request) -> Response:
    """The unit head signs several reports off from the list, all or nothing."""
    return await bulk(request, practice.bulk_sign_off, "bulk_signoff", what="signoff")


@router.post("/findings/{finding_id}/recheck")
async def post_recheck(finding_id: Id, request: Request) -> Response:
    """回头看: decision=confirm (note optional) or decision=reopen (reason and a new deadline)."""
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "decision", "recheck_note",
                          "reopen_due")
    at, today = now(request), _today(request)
    reopen = fields["decision"] == "reopen"

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        practice.recheck(s, f, me.viewer, me.actor, at, today, _rt(request), version=version, reopen=reopen,
                         note=fields["recheck_note"], new_due=fields["reopen_due"])

    return await run_in_threadpool(_do, request, finding_id, fields, work, "reopen" if reopen else "recheck_ok")
