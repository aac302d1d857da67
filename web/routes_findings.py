"""The list, the unit's report form, cancel and bulk 销号, evidence downloads, and what the finding page
and its forms share (the page's context, re-showing it after a refusal, reading a form); the page and its
销号 themselves are served by web.routes_hot.

Handlers stay thin: web.queries reads, web.actions writes, rectify.services.access decides.
POST handlers parse the form asynchronously, then do the database work in the thread pool.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from models import Evidence, Finding
from rectify.core.lifecycle import TransitionError
from rectify.core.practice import PracticeError
from rectify.db import reading
from rectify.runtime import Runtime
from rectify.services.access import Do, Target, decide, may
from rectify.services.colours import palette
from rectify.services.findings import ConflictError
from web import actions, evidence
from web.actions import BulkConflict, Forbidden, Missing, Refused, Upload
from web.auth import (
    Me,
    Signed,
    SignInRequired,
    WebSession,
    check_csrf,
    check_origin,
    now,
    read_session,
    remember_signed_in,
    session_person,
    signed_in,
)
from web.evidence import EvidenceError
from web.followup import followup_of
from web.limits import MAX_FILES, MIB
from web.numbers import Id, parse_int
from web.pages import error_page, page
from web.queries import (
    FindingRow,
    Has,
    ListFilter,
    evidence_of,
    history,
    level_kind,
    list_findings,
    load_finding,
    load_page,
    timing,
)
from web.supervision import event_facts, practice_of, recheck_before
from web.threads import blocking

router = APIRouter(include_in_schema=False)

DONE = ("report", "verify", "reject", "cancel", "extension", "extension_approved", "extension_refused", "reassign",
        "deadline", "signoff", "recheck_ok", "reopen", "acknowledge", "progress")  # flashes a redirect may ask for


def _rt(request: Request) -> Runtime:
    return request.app.state.rt


def _today(request: Request) -> date:
    return now(request).astimezone(_rt(request).tz).date()


def _finding_or_404(s: Session, finding_id: int) -> Finding:
    f = load_finding(s, finding_id)
    if f is None:
        raise HTTPException(404)
    return f


def finding_context(s: Session, rt: Runtime, me: Me, f: FindingRow, today: date, has: Has | None = None,
                    **extra: Any) -> dict[str, Any]:
    """Everything the finding page shows; also used to re-show it after a refused form. `has` (from
    web.queries.load_page) says which lists are empty, so they are not queried."""
    has = has or Has()
    target = Target.of(f)
    can = {do.value: may(me.viewer, do, target) for do in Do}
    practice = practice_of(s, rt, f, today, may_reassign=can[Do.REASSIGN], has_requests=has.requests)
    ctx: dict[str, Any] = {
        "f": f,
        "files": evidence_of(s, f.id) if has.evidence else [],
        "timing": timing(rt.calendar, f.state, f.due_date, today),
        "level_kind": level_kind(f.level, rt.ladder),
        "events": [(e, e.at.astimezone(rt.tz), event_facts(e)) for e in history(s, f.id)] if has.events else [],
        "can": can,
        "practice": practice,
        "followup": followup_of(s, f, today, practice.names, has_reports=has.reports),  # 签收, 进展反馈
        "today": today,
        "tz": rt.tz,
        "form": {},
        "error": "",
        "error_file": "",
        "conflict": False,
        "done": "",
        "max_mib": rt.settings.web.max_upload_mib,
        "max_files": MAX_FILES,
    }
    ctx.update(extra)
    return ctx


def _show(s: Session, request: Request, me: Me, finding_id: int, status: int = 200, conn: Connection | None = None,
          **extra: Any) -> Response:
    """The finding page. The finding is read as plain columns (web.queries.load_page) on `conn` (default:
    the session's); `s` loads only the lists that are not empty (history, evidence, requests, reports)."""
    loaded = load_page(conn if conn is not None else s.connection(), finding_id)
    if loaded is None:
        raise HTTPException(404)
    f, has = loaded
    if decide(me.viewer, Do.VIEW, Target.of(f)) != "ok":
        raise Forbidden
    return page("finding.html", me, status=status,
                **finding_context(s, _rt(request), me, f, _today(request), has, **extra))


def _version(form: dict[str, str]) -> int:
    version = parse_int(form.get("version", ""))
    if version is None:
        raise HTTPException(400)
    return version


async def _read_form(request: Request, max_files: int = 0) -> FormData:
    """The form, read only for a signed-in person posting from this site (issue 13.3).

    Before a byte of the body is read: a session that belongs to an active, unrevoked person (an
    anonymous sign-in cookie is not enough) and, when the browser sends Origin, this site's origin.
    The CSRF token travels in the body, so it is checked right after, before anything is acted on;
    web.limits.BodyLimit caps how much that read can take.
    """
    session = read_session(request)
    if session is None or session.person_id is None:
        raise SignInRequired
    person = await blocking(_still_signed_in, request, session)
    if person is None:
        raise SignInRequired
    remember_signed_in(request, session, person)  # the handler's signed_in() takes it from here
    check_origin(request)
    form = await request.form(max_files=max_files, max_fields=50)
    check_csrf(session.csrf, form.get("csrf_token") if isinstance(form.get("csrf_token"), str) else "")
    return form


def _still_signed_in(request: Request, session: WebSession) -> Signed | None:
    with reading(_rt(request).engine) as conn:
        return session_person(request, conn, session)


def _text_fields(form: FormData, *names: str) -> dict[str, str]:
    return {n: v if isinstance(v := form.get(n, ""), str) else "" for n in names}


# ---------------------------------------------------------------- read

@router.get("/")
def home() -> Response:
    return RedirectResponse("/findings", status_code=303)


@router.get("/findings")
def finding_list(request: Request) -> Response:
    rt = _rt(request)
    flt = ListFilter.parse(dict(request.query_params))
    today = _today(request)
    with rt.sessions() as s:
        me = signed_in(request, s)
        result = list_findings(s, me.viewer, flt, today, rt.calendar, rt.ladder, palette=palette(rt, today),
                               recheck_before=recheck_before(rt.calendar, rt.settings.supervision.recheck_working_days,
                                                             today, rt.tz))
    done = request.query_params.get("done", "")
    n = request.query_params.get("n", "")
    # The list's checkboxes serve bulk 销号 for supervisors and bulk sign-off for unit heads.
    bulk = {"supervisor": "verify", "unit_leader": "signoff"}.get(me.viewer.role, "")
    if bulk == "signoff" and not any(r.needs_signoff for r in result.rows):
        bulk = ""
    # 一键签收 for the unit's own people when some of the listed findings wait for it.
    ack_all = me.viewer.role in ("unit_contact", "unit_leader") and any(r.awaits_ack for r in result.rows)
    return page("list.html", me, result=result, flt=flt, today=today, bulk=bulk, can_bulk=bulk == "verify",
                done=done if done in ("bulk", "bulk_signoff", "ack_all") else "",
                n=parse_int(n, maximum=10_000) or 0, ack_all=ack_all)


@router.get("/evidence/{evidence_id}")
def download(evidence_id: Id, request: Request) -> Response:
    rt = _rt(request)
    with rt.sessions() as s:
        me = signed_in(request, s)
        ev = s.get(Evidence, evidence_id)
        if ev is None:
            raise HTTPException(404)
        if decide(me.viewer, Do.VIEW, Target.of(ev.finding)) != "ok":
            raise Forbidden
        path = evidence.blob_path(rt.settings.evidence_path, ev.sha256)
        name, media = evidence.strip_bidi(ev.filename), ev.content_type
    if not path.is_file():
        raise HTTPException(404)
    # attachment: the browser saves the file and never renders it in our origin.
    return FileResponse(path, media_type=media, filename=name, content_disposition_type="attachment")


# ---------------------------------------------------------------- write

def _refused(s: Session, request: Request, me: Me, finding_id: int, exc: Exception, form: dict[str, str]) -> Response:
    """Re-show the finding page after a refused form, with what was typed and why it was refused."""
    s.rollback()
    s.expire_all()
    if isinstance(exc, ConflictError | TransitionError):
        return _show(s, request, me, finding_id, 409, conflict=True)
    if isinstance(exc, PracticeError):  # e.g. 销号 before the unit head's sign-off
        return _show(s, request, me, finding_id, 409, error="practice")
    if isinstance(exc, Missing):
        return _show(s, request, me, finding_id, 400, form=form, error=exc.field)
    if isinstance(exc, Refused):
        return _show(s, request, me, finding_id, exc.status, form=form, error=exc.code)
    if isinstance(exc, EvidenceError):
        status = 413 if exc.reason == "too_large" else 415
        return _show(s, request, me, finding_id, status, form=form, error=exc.reason, error_file=exc.filename)
    raise exc


def _do(request: Request, finding_id: int, form: dict[str, str], work, done: str) -> Response:
    """Shared POST flow: session, CSRF, load, act, commit, redirect (Post/Redirect/Get)."""
    rt = _rt(request)
    with rt.sessions() as s:
        me = signed_in(request, s)
        check_csrf(me.csrf, form.get("csrf_token"))
        f = _finding_or_404(s, finding_id)
        version = _version(form)
        try:
            with request.app.state.write_lock:
                work(s, f, me, version)
                s.commit()
        except (ConflictError, TransitionError, PracticeError, Missing, Refused, EvidenceError) as exc:
            return _refused(s, request, me, finding_id, exc, form)
    return RedirectResponse(f"/findings/{finding_id}?done={done}", status_code=303)


@router.post("/findings/{finding_id}/report")
async def post_report(finding_id: Id, request: Request) -> Response:
    rt = _rt(request)
    limit = rt.settings.web.max_upload_mib * MIB
    form = await _read_form(request, max_files=MAX_FILES)
    uploads = []
    for item in form.getlist("files"):
        if isinstance(item, UploadFile) and item.filename:
            uploads.append(Upload(item.filename, await item.read(limit + 1)))  # +1: enough to see it is too big
    fields = _text_fields(form, "csrf_token", "version", "measures", "progress")
    at = now(request)

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        actions.report(s, f, me.viewer, me.actor, at, version=version, measures=fields["measures"],
                       progress=fields["progress"], uploads=uploads, evidence_dir=rt.settings.evidence_path,
                       max_bytes=limit)

    return await run_in_threadpool(_do, request, finding_id, fields, work, "report")


@router.post("/findings/{finding_id}/cancel")
async def post_cancel(finding_id: Id, request: Request) -> Response:
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "reason")
    at = now(request)

    def work(s: Session, f: Finding, me: Me, version: int) -> None:
        actions.cancel(s, f, me.viewer, me.actor, at, version=version, reason=fields["reason"])

    return await run_in_threadpool(_do, request, finding_id, fields, work, "cancel")


def _picks(values: list[str]) -> list[tuple[int, int]]:
    """Checkbox values "id:version" → pairs; anything else is a bad request."""
    out = []
    for v in values:
        fid, _, ver = v.partition(":")
        pair = parse_int(fid), parse_int(ver)
        if pair[0] is None or pair[1] is None:
            raise HTTPException(400)
        out.append((pair[0], pair[1]))
    return out


async def bulk(request: Request, act, done: str, what: str = "verify") -> Response:
    """A bulk form from the list: `act(session, viewer, actor, at, picks, note=)` on every pick or none."""
    form = await _read_form(request)
    fields = _text_fields(form, "csrf_token", "note")
    picks = _picks([v for v in form.getlist("pick") if isinstance(v, str)])
    at = now(request)

    def work() -> Response:
        rt = _rt(request)
        with rt.sessions() as s:
            me = signed_in(request, s)
            check_csrf(me.csrf, fields["csrf_token"])
            if not picks:
                return error_page(request, "nothing_picked", 400)
            try:
                with request.app.state.write_lock:
                    n = act(s, me.viewer, me.actor, at, picks, note=fields["note"])
                    s.commit()
            except BulkConflict as exc:
                s.rollback()
                stale = [s.get(Finding, f.id) for f in exc.stale]
                return page("bulk_conflict.html", me, status=409, stale=[f for f in stale if f is not None],
                            what=what)
        return RedirectResponse(f"/findings?done={done}&n={n}", status_code=303)

    return await run_in_threadpool(work)


@router.post("/findings/bulk-verify")
async def post_bulk_verify(request: Request) -> Response:
    """销号 several reported findings from the list, all or nothing."""
    return await bulk(request, actions.bulk_verify, "bulk")
