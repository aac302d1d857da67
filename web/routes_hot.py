"""The two requests a supervisor makes most, as plain Starlette routes: the finding page and its 销号/退回.

The same rules as every other form (web.routes_findings): the signed-in person is checked against the
database on every request, the CSRF token and Origin before anything is acted on, the one access policy
(rectify.services.access, through web.actions), the compare-and-set on the version, the audit event, and
the same 400/403/404/409 pages. Left out is framework work only: FastAPI's parameter validation and
dependency solving and anyio's thread hop (together ~0.5 ms of a ~2 ms request, bench/form_profile.py).
The id is parsed by web.numbers.parse_int exactly as FastAPI's `Id` parameter did; the finding is read as
plain columns (web.queries.FindingRow) and the write is one UPDATE and one INSERT (services.findings.act_row;
on PostgreSQL one statement, in autocommit: a 销号 is four round trips instead of eight).
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rectify.core.lifecycle import TransitionError
from rectify.core.practice import PracticeError
from rectify.db import reading
from rectify.services.findings import ConflictError
from web import actions
from web.actions import Missing, Refused
from web.auth import check_csrf, now, signed_in
from web.numbers import parse_int
from web.pages import error_page
from web.queries import load_row
from web.routes_findings import DONE, _read_form, _refused, _rt, _show, _text_fields, _version
from web.threads import blocking


def _finding_id(request: Request) -> int | None:
    return parse_int(request.path_params["finding_id"])


async def finding_page(request: Request) -> Response:
    finding_id = _finding_id(request)
    if finding_id is None:
        return error_page(request, "bad_request", 400)
    return await blocking(_page, request, finding_id)


def _page(request: Request, finding_id: int) -> Response:
    """One connection, no ORM for the person and the finding; the session on it loads only the lists
    the finding has (history, evidence, extension requests, progress reports)."""
    with reading(_rt(request).engine) as conn, Session(bind=conn) as s:
        me = signed_in(request, conn)
        done = request.query_params.get("done", "")
        return _show(s, request, me, finding_id, conn=conn, done=done if done in DONE else "")


async def post_verify(request: Request) -> Response:
    """One form, two buttons: 销号 (decision=close, note optional) or 退回 (decision=reject, reason required)."""
    finding_id = _finding_id(request)
    if finding_id is None:
        return error_page(request, "bad_request", 400)
    fields = _text_fields(await _read_form(request), "csrf_token", "version", "decision", "note")
    return await blocking(_verify, request, finding_id, fields)


def _verify(request: Request, finding_id: int, form: dict[str, str]) -> Response:
    """web.routes_findings._do without the ORM: a connection, the finding as plain columns, the policy and
    lifecycle checks, one compare-and-set UPDATE and its event, commit, redirect. A refusal re-shows the
    page as _do does, nothing written."""
    rt, at = _rt(request), now(request)
    reject = form["decision"] == "reject"
    # PostgreSQL: autocommit, the reads without BEGIN and the write one statement (act_row); SQLite: the
    # driver's transaction from the UPDATE to the commit, as before.
    with reading(rt.engine) as conn:
        me = signed_in(request, conn)
        check_csrf(me.csrf, form.get("csrf_token"))
        f = load_row(conn, finding_id)
        if f is None:
            raise HTTPException(404)
        version = _version(form)
        try:
            with request.app.state.write_lock:
                if reject:
                    actions.reject_row(conn, f, me.viewer, me.actor, at, version=version, reason=form["note"])
                else:
                    actions.verify_row(conn, f, me.viewer, me.actor, at, version=version, note=form["note"])
                conn.commit()
        except (ConflictError, TransitionError, PracticeError, Missing, Refused) as exc:
            conn.rollback()
            with rt.sessions() as s:
                return _refused(s, request, me, finding_id, exc, form)
    return RedirectResponse(f"/findings/{finding_id}?done={'reject' if reject else 'verify'}", status_code=303)


ROUTES = [Route("/findings/{finding_id}", finding_page, methods=["GET"]),
          Route("/findings/{finding_id}/verify", post_verify, methods=["POST"])]
