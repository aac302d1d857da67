"""Signing in: the mail link (/auth/{token}), the sign-in-by-e-mail page, signing out."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from models import Person
from rectify.links import BadLink, read_token
from rectify.mail.deliver import flush_outbox_async
from rectify.services.revocation import revoke_sessions, still_valid
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


def _link_person(request: Request, token: str, target: str) -> tuple[Person | None, Response | None]:
    """The person a mail link signs in, or the refusal page (forged, expired, revoked, left)."""
    rt = request.app.state.rt
    try:
        parsed = read_token(rt.settings.secret, token, now=now(request))
    except BadLink as exc:
        return None, error_page(request, "expired" if "expired" in str(exc) else "bad_link", 403, next=target)
    with rt.sessions() as s:
        person = still_valid(s, parsed, now(request))
        if person is None:
            return None, error_page(request, "bad_link", 403, next=target)
        s.expunge(person)
    return person, None


def _anonymous_form(request: Request, template: str, **context) -> Response:
    """A page with a form posted before sign-in: the CSRF token comes from the visitor's session, made
    anonymous (and set as a cookie) when there is none yet."""
    session = read_session(request)
    fresh = session is None
    if session is None:
        session = new_session(request, None)
    response = page(template, None, csrf=session.csrf, **context)
    if fresh:
        set_session_cookie(request, response, session)
    return response


@router.get("/auth/{token}")
def open_link(token: str, request: Request, next: str = "/findings") -> Response:
    """A mail link: show who it signs in and one button. Nothing changes on GET, so a link scanner
    opening the mail, or a cross-site page loading this address, signs nobody in (issue 13.7)."""
    target = safe_next(next)
    person, refused = _link_person(request, token, target)
    if refused is not None:
        return refused
    return _anonymous_form(request, "signin_confirm.html", person=person, next=target,
                           action=f"/auth/{quote(token, safe='')}")


@router.post("/auth/{token}")
async def confirm_link(token: str, request: Request) -> Response:
    """The confirmation button: same-site POST with the CSRF token, then the session starts."""
    form = await request.form(max_files=0, max_fields=10)
    session = read_session(request)
    check_csrf(session.csrf if session else "", form.get("csrf_token"))
    target = safe_next(str(form.get("next", "")))
    person, refused = await run_in_threadpool(_link_person, request, token, target)
    if refused is not None:
        return refused
    assert person is not None
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, person.id)
    return response


@router.get("/signin")
def signin_form(request: Request, next: str = "/findings") -> Response:
    return _anonymous_form(request, "signin.html", next=safe_next(next), error="")


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
    """Sign out everywhere: every session and mail link of this person issued until now ends."""
    form = await request.form(max_files=0, max_fields=10)
    session = read_session(request)
    check_csrf(session.csrf if session else "", form.get("csrf_token"))
    if session is not None and session.person_id is not None:
        await run_in_threadpool(_revoke, request, session.person_id)
    response = RedirectResponse("/signin", status_code=303)
    end_session(response)
    return response


def _revoke(request: Request, person_id: int) -> None:
    rt = request.app.state.rt
    with rt.sessions() as s, s.begin():
        person = s.get(Person, person_id)
        if person is not None:
            revoke_sessions(person, now(request))
