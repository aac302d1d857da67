"""Signing in: the mail link (/auth/{token}), the sign-in-by-e-mail page, signing out."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from models import Person
from rectify.links import BadLink, verify
from rectify.mail.deliver import flush_outbox_async
from web.auth import (
    check_csrf,
    end_session,
    new_session,
    now,
    read_session,
    safe_next,
    set_session_cookie,
    start_session,
)
from web.pages import error_page, page
from web.signin import request_link

router = APIRouter(include_in_schema=False)


@router.get("/auth/{token}")
def open_link(token: str, request: Request, next: str = "/findings") -> Response:
    """A mail link: check the signed token, start a session for its person, go where the mail pointed."""
    rt = request.app.state.rt
    target = safe_next(next)
    try:
        person_id = verify(rt.settings.secret, token, now=now(request))
    except BadLink as exc:
        return error_page(request, "expired" if "expired" in str(exc) else "bad_link", 403, next=target)
    with rt.sessions() as s:
        person = s.get(Person, person_id)
        if person is None or not person.active:
            return error_page(request, "bad_link", 403, next=target)
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, person_id)
    return response


@router.get("/signin")
def signin_form(request: Request, next: str = "/findings") -> Response:
    session = read_session(request)
    fresh = session is None
    if session is None:
        session = new_session(request, None)  # anonymous: only carries the CSRF token
    response = page("signin.html", None, csrf=session.csrf, next=safe_next(next), error="")
    if fresh:
        set_session_cookie(request, response, session)
    return response


@router.post("/signin")
async def signin_request(request: Request, background: BackgroundTasks) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    session = read_session(request)
    check_csrf(session.csrf if session else "", form.get("csrf_token"))
    rt = request.app.state.rt
    email, target = str(form.get("email", "")), safe_next(str(form.get("next", "")))
    if "@" not in email:
        return page("signin.html", None, status=400, csrf=session.csrf if session else "", next=target,
                    error="email")
    at = now(request)
    msg_id = await run_in_threadpool(request_link, rt, email, at, target)
    if msg_id is not None:
        background.add_task(flush_outbox_async, rt.sessions, rt.settings, at, ids=[msg_id])
    return page("signin_sent.html", None)


@router.post("/signout")
async def signout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    session = read_session(request)
    check_csrf(session.csrf if session else "", form.get("csrf_token"))
    response = RedirectResponse("/signin", status_code=303)
    end_session(response)
    return response
