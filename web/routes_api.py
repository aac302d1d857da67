"""The JSON API for an office's own systems: list, read, report, verify (销号), reject (退回), and ask for
or decide an extension (延期).

Same rules as the form: the same policy decides, the same actions write, the same audit events.
Authentication: `Authorization: Bearer <api token>` (made by `rectify api-token issue EMAIL`), or the
form's session cookie plus an `X-CSRF-Token` header on writes. Errors are JSON {"error": code}.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ExtensionRequest, Finding
from rectify.core.lifecycle import TransitionError
from rectify.core.practice import PracticeError
from rectify.runtime import Runtime
from rectify.services.access import Do, Target, decide
from rectify.services.colours import palette
from rectify.services.findings import ConflictError
from web import actions, practice
from web.actions import Forbidden, Missing, Refused
from web.auth import Me, api_caller, now
from web.numbers import Id
from web.queries import ListFilter, evidence_of, level_kind, list_findings, load_finding, timing
from web.supervision import colour_of

router = APIRouter(prefix="/api", tags=["findings"])


class EvidenceOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class ExtensionOut(BaseModel):
    id: int
    state: str = Field(description="pending / approved / refused")
    reason: str
    previous_due: date
    proposed_due: date
    approved_due: date | None
    decision_note: str
    requested_at: datetime
    decided_at: datetime | None


class FindingOut(BaseModel):
    id: int
    code: str
    unit: str
    group: str | None
    state: str = Field(description="open / reported / rejected / closed / cancelled")
    problem: str
    opinion: str
    deadline_text: str
    due_date: date | None = Field(description="the current deadline (现时限)")
    original_due_date: date | None = Field(description="the deadline before any extension or change (原定时限)")
    extensions_used: int
    colour: str | None = Field(description="蓝/黄/红 warning: blue / yellow / red, or null")
    working_days: int | None = Field(description="working days relative to the due date: -2 two left, 3 three late")
    overdue: bool
    level: int
    level_kind: str | None = Field(description="remind / urge / supervise / notify, or null")
    measures: str
    progress: str
    reported_at: datetime | None
    closed_at: datetime | None
    version: int = Field(description="send it back with every action (optimistic locking)")
    ack_due_on: date | None = Field(None, description="签收 due by this working day (null: none asked)")
    acknowledged_at: datetime | None = Field(None, description="签收 time (null: not acknowledged)")
    progress_due_on: date | None = Field(None, description="next 阶段性进展 due (null: none owed)")
    evidence: list[EvidenceOut]
    extensions: list[ExtensionOut]


class FindingSummary(BaseModel):
    id: int
    code: str
    unit: str
    state: str
    problem: str
    due_date: date | None
    original_due_date: date | None
    colour: str | None = Field(description="蓝/黄/红 warning: blue / yellow / red, or null")
    working_days: int | None
    overdue: bool
    version: int


class FindingPage(BaseModel):
    total: int
    page: int
    pages: int
    items: list[FindingSummary]


class ReportIn(BaseModel):
    version: Id
    measures: str = Field(max_length=20000, description="整改措施 (required)")
    progress: str = Field(max_length=20000, description="完成情况 (required)")


class VerifyIn(BaseModel):
    version: Id
    note: str = Field("", max_length=20000)


class RejectIn(BaseModel):
    version: Id
    reason: str = Field(max_length=20000, description="required")


class ExtensionIn(BaseModel):
    version: Id
    proposed_due: date = Field(description="拟延期至: after the current deadline")
    reason: str = Field(max_length=20000, description="延期理由 (required)")


class ExtensionDecisionIn(BaseModel):
    version: Id
    request_id: Id = Field(description="the pending request's id (FindingOut.extensions)")
    approve: bool
    due: date | None = Field(None, description="on approval: another date than the one asked for")
    note: str = Field("", max_length=20000, description="required when refusing")


class Problem(BaseModel):
    error: str = Field(description="unauthorized / csrf / forbidden / not_found / conflict / needs_signoff / invalid"
                                   " / refused")
    fields: list[str] | None = None
    reason: str | None = Field(None, description="on refused: passed / pending / limit / long_term / date_not_later /"
                                                 " date_past / bad_date ...")
    finding: FindingOut | None = Field(None, description="on conflict: the finding as it is now")


ERRORS = {401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem},
          422: {"model": Problem}}


def caller(request: Request) -> Iterator[tuple[Session, Me]]:
    with request.app.state.rt.sessions() as s:
        yield s, api_caller(request, s)


Caller = Annotated[tuple[Session, Me], Depends(caller)]


def _out(s: Session, rt: Runtime, f: Finding, today: date) -> FindingOut:
    t = timing(rt.calendar, f.state, f.due_date, today)
    requests = list(s.scalars(select(ExtensionRequest).where(ExtensionRequest.finding_id == f.id)
                              .order_by(ExtensionRequest.id)))
    decided = [r for r in requests if r.state != "pending"]
    colour = colour_of(palette(rt, today), state=f.state, due=f.due_date, level=f.level,
                       refused=bool(decided) and decided[-1].state == "refused")
    return FindingOut(
        id=f.id, code=f.code, unit=f.unit.name, group=f.group.name if f.group else None, state=f.state,
        problem=f.problem, opinion=f.opinion, deadline_text=f.deadline_text, due_date=f.due_date,
        original_due_date=f.original_due_date, extensions_used=f.extensions_used, colour=colour,
        working_days=t.days, overdue=t.overdue, level=f.level, level_kind=level_kind(f.level, rt.ladder),
        measures=f.measures, progress=f.progress, reported_at=f.reported_at, closed_at=f.closed_at,
        version=f.version, ack_due_on=f.ack_due_on, acknowledged_at=f.acknowledged_at,
        progress_due_on=f.progress_due_on,
        evidence=[EvidenceOut(id=e.id, filename=e.filename, content_type=e.content_type, size=e.size,
                              url=f"/evidence/{e.id}") for e in evidence_of(s, f.id)],
        extensions=[ExtensionOut(id=r.id, state=r.state, reason=r.reason, previous_due=r.previous_due,
                                 proposed_due=r.proposed_due, approved_due=r.approved_due,
                                 decision_note=r.decision_note, requested_at=r.requested_at, decided_at=r.decided_at)
                    for r in requests])


def _today(request: Request) -> date:
    return now(request).astimezone(request.app.state.rt.tz).date()


def _visible(s: Session, me: Me, finding_id: int) -> Finding:
    f = load_finding(s, finding_id)
    if f is None:
        raise _NotFound
    if decide(me.viewer, Do.VIEW, Target.of(f)) != "ok":
        raise Forbidden
    return f


class _NotFound(Exception):
    pass


# The form's field names where the JSON bodies name the same thing differently.
_API_FIELDS = {"ext_reason": "reason", "proposed": "proposed_due", "decision_note": "note", "approved_due": "due"}


def _error(error: str, status: int, **extra: object) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


@router.get("/findings", response_model=FindingPage, responses=ERRORS, summary="The findings I may see")
def api_list(request: Request, who: Caller, state: str = "", unit: Id | None = None, overdue: bool = False,
             q: str = "", page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> FindingPage:
    s, me = who
    rt = request.app.state.rt
    flt = ListFilter.parse({"state": state, "unit": str(unit or ""), "overdue": "1" if overdue else "", "q": q,
                            "page": str(page)})
    today = _today(request)
    result = list_findings(s, me.viewer, flt, today, rt.calendar, rt.ladder, palette=palette(rt, today))
    return FindingPage(total=result.total, page=result.page, pages=result.pages, items=[
        FindingSummary(id=r.id, code=r.code, unit=r.unit, state=r.state, problem=r.problem, due_date=r.due_date,
                       original_due_date=r.original_due_date, colour=r.colour, working_days=r.timing.days,
                       overdue=r.timing.overdue, version=r.version)
        for r in result.rows])


@router.get("/findings/{finding_id}", response_model=FindingOut, responses=ERRORS, summary="One finding")
def api_get(finding_id: Id, request: Request, who: Caller) -> FindingOut | JSONResponse:
    s, me = who
    try:
        return _out(s, request.app.state.rt, _visible(s, me, finding_id), _today(request))
    except _NotFound:
        return _error("not_found", 404)


def _act(request: Request, who: tuple[Session, Me], finding_id: Id, work) -> FindingOut | JSONResponse:
    s, me = who
    rt = request.app.state.rt
    try:
        f = _visible(s, me, finding_id)
    except _NotFound:
        return _error("not_found", 404)
    try:
        with request.app.state.write_lock:
            work(s, f, me)
            s.commit()
    except (ConflictError, TransitionError):
        s.rollback()
        s.expire_all()
        current = load_finding(s, finding_id)
        return _error("conflict", 409, finding=_out(s, rt, current, _today(request)).model_dump(mode="json"))
    except Missing as exc:
        s.rollback()
        return _error("invalid", 422, fields=[_API_FIELDS.get(exc.field, exc.field)])
    except Refused as exc:  # the office's rules: 409 when the finding's state says no, 422 for what was sent
        s.rollback()
        return _error("refused", 409 if exc.status == 409 else 422, reason=exc.code)
    except PracticeError:
        s.rollback()
        return _error("needs_signoff", 409)
    s.expire_all()
    return _out(s, rt, load_finding(s, finding_id), _today(request))


@router.post("/findings/{finding_id}/report", response_model=FindingOut, responses=ERRORS,
             summary="报送整改情况 (unit contact)")
def api_report(finding_id: Id, body: ReportIn, request: Request, who: Caller) -> FindingOut | JSONResponse:
    at = now(request)
    return _act(request, who, finding_id, lambda s, f, me: actions.report(
        s, f, me.viewer, me.actor, at, version=body.version, measures=body.measures, progress=body.progress,
        evidence_dir=request.app.state.rt.settings.evidence_path, max_bytes=0))


@router.post("/findings/{finding_id}/verify", response_model=FindingOut, responses=ERRORS,
             summary="销号 (supervisor of the finding's group)")
def api_verify(finding_id: Id, body: VerifyIn, request: Request, who: Caller) -> FindingOut | JSONResponse:
    at = now(request)
    return _act(request, who, finding_id, lambda s, f, me: actions.verify(
        s, f, me.viewer, me.actor, at, version=body.version, note=body.note))


@router.post("/findings/{finding_id}/reject", response_model=FindingOut, responses=ERRORS,
             summary="退回 with a reason (supervisor of the finding's group)")
def api_reject(finding_id: Id, body: RejectIn, request: Request, who: Caller) -> FindingOut | JSONResponse:
    at = now(request)
    return _act(request, who, finding_id, lambda s, f, me: actions.reject(
        s, f, me.viewer, me.actor, at, version=body.version, reason=body.reason))


@router.post("/findings/{finding_id}/extension", response_model=FindingOut, responses=ERRORS,
             summary="延期申请 before the deadline (unit contact)")
def api_extension(finding_id: Id, body: ExtensionIn, request: Request, who: Caller) -> FindingOut | JSONResponse:
    at, today = now(request), _today(request)
    limit = request.app.state.rt.settings.supervision.max_extensions
    return _act(request, who, finding_id, lambda s, f, me: practice.request_extension(
        s, f, me.viewer, me.actor, at, today, version=body.version, proposed=body.proposed_due.isoformat(),
        reason=body.reason, limit=limit, cal=request.app.state.rt.calendar))


@router.post("/findings/{finding_id}/extension/decide", response_model=FindingOut, responses=ERRORS,
             summary="同意 (optionally with another date) or 不同意 (with a reason) the pending 延期申请 "
                     "(supervisor of the finding's group, admin)")
def api_extension_decision(finding_id: Id, body: ExtensionDecisionIn, request: Request,
                           who: Caller) -> FindingOut | JSONResponse:
    at, today = now(request), _today(request)
    return _act(request, who, finding_id, lambda s, f, me: practice.decide_extension(
        s, f, me.viewer, me.actor, at, today, version=body.version, request_id=body.request_id,
        approve=body.approve, cal=request.app.state.rt.calendar,
        chosen=body.due.isoformat() if body.approve and body.due else "", note=body.note))
