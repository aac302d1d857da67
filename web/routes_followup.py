"""签收 and 进展反馈 on the form: the 签收 button on the finding page (also where the mail's link lands), 一键签收
of all of a unit's new findings from the list, and the progress report form (text + optional evidence).

Same flow as the lifecycle forms (web.routes_findings._do): session, CSRF, version, web.followup writes,
commit, redirect; a refused form is shown again with what was typed and why.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from models import Finding
from web import followup
from web.actions import Forbidden, Upload
from web.auth import Me, check_csrf, now, signed_in
from web.limits import MAX_FILES, MIB
from web.numbers import Id
from web.pages import error_page
from web.routes_findings import _do, _read_form, _rt, _text_fields, _today

router = APIRouter(include_in_schema=False)


@router.post("/findings/{finding_id}/acknowledge")
async def post_acknowledge(finding_id: Id, request: Request) -> Response:
    """签收 one finding."""
    fields = _text_fields(await _read_form(request), "csrf_token", "version")
    at, today = now(request), _today(request)

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        followup.acknowledge(s, f, me.viewer, me.actor, at, today, version=version)

    return await run_in_threadpool(_do, request, finding_id, fields, work, "acknowledge")


@router.post("/findings/acknowledge-all")
async def post_acknowledge_all(request: Request) -> Response:
    """一键签收: all findings of the signed-in person's unit that wait for 签收."""
    fields = _text_fields(await _read_form(request), "csrf_token")
    at, today = now(request), _today(request)

    def work() -> Response:
        with _rt(request).sessions() as s:
            me = signed_in(request, s)
            check_csrf(me.csrf, fields["csrf_token"])
            try:
                with request.app.state.write_lock:
                    n = followup.acknowledge_all(s, me.viewer, me.actor, at, today)
                    s.commit()
            except Forbidden:
                s.rollback()
                return error_page(request, "forbidden", 403)
        return RedirectResponse(f"/findings?done=ack_all&n={n}", status_code=303)

    return await run_in_threadpool(work)


@router.post("/findings/{finding_id}/progress")
async def post_progress(finding_id: Id, request: Request) -> Response:
    """阶段性进展: text and optional evidence files (checked like a report's, all before anything is written)."""
    rt = _rt(request)
    limit = rt.settings.web.max_upload_mib * MIB  # web.limits.BodyLimit caps the whole body as it streams in
    form = await _read_form(request, max_files=MAX_FILES)
    uploads = [Upload(item.filename, await item.read(limit + 1)) for item in form.getlist("files")
               if isinstance(item, UploadFile) and item.filename]
    fields = _text_fields(form, "csrf_token", "version", "progress_text")
    at, today = now(request), _today(request)

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        followup.report_progress(s, f, me.viewer, me.actor, at, today, rt, version=version,
                                 text=fields["progress_text"], uploads=uploads, evidence_dir=rt.settings.evidence_path,
                                 max_bytes=limit)

    return await run_in_threadpool(_do, request, finding_id, fields, work, "progress")
