"""签收 and 进展反馈 in the JSON API: acknowledge one finding, acknowledge all of my unit's new findings, make a
progress report (text; evidence goes through the form). Same policy, services and events as the form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from web import followup
from web.actions import Forbidden
from web.auth import now
from web.numbers import Id
from web.routes_api import ERRORS, Caller, FindingOut, _act, _error, _today

router = APIRouter(prefix="/api", tags=["findings"])


class AcknowledgeIn(BaseModel):
    version: Id


class ProgressIn(BaseModel):
    version: Id
    text: str = Field(max_length=2000, description="阶段性进展 (required)")


class AcknowledgedAll(BaseModel):
    acknowledged: int = Field(description="how many findings were acknowledged now")


@router.post("/findings/{finding_id}/acknowledge", response_model=FindingOut, responses=ERRORS,
             summary="签收 a new or reassigned finding (unit contact or leader)")
def api_acknowledge(finding_id: Id, body: AcknowledgeIn, request: Request, who: Caller) -> FindingOut | JSONResponse:
    at, today = now(request), _today(request)
    return _act(request, who, finding_id, lambda s, f, me: followup.acknowledge(
        s, f, me.viewer, me.actor, at, today, version=body.version))


@router.post("/acknowledge-all", response_model=AcknowledgedAll, responses=ERRORS,
             summary="一键签收: every finding of my unit waiting for 签收")
def api_acknowledge_all(request: Request, who: Caller) -> AcknowledgedAll | JSONResponse:
    s, me = who
    try:
        with request.app.state.write_lock:
            n = followup.acknowledge_all(s, me.viewer, me.actor, now(request), _today(request))
            s.commit()
    except Forbidden:
        s.rollback()
        return _error("forbidden", 403)
    return AcknowledgedAll(acknowledged=n)


@router.post("/findings/{finding_id}/progress", response_model=FindingOut, responses=ERRORS,
             summary="阶段性进展 on long work (unit contact)")
def api_progress(finding_id: Id, body: ProgressIn, request: Request, who: Caller) -> FindingOut | JSONResponse:
    at, today = now(request), _today(request)
    rt = request.app.state.rt
    return _act(request, who, finding_id, lambda s, f, me: followup.report_progress(
        s, f, me.viewer, me.actor, at, today, rt, version=body.version, text=body.text,
        evidence_dir=rt.settings.evidence_path, max_bytes=0))
