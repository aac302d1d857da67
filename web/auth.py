"""Sessions, CSRF and the API bearer token.

A session is one signed cookie (itsdangerous, keyed by settings.secret): the person, a random CSRF
token and the expiry, which sits inside the signed payload and is checked against the app's clock
(like mail links), so tests can move time. Signed-out visitors get an anonymous session that only
carries a CSRF token, so the sign-in form is protected too.

API clients send `Authorization: Bearer <token>`, a token from rectify.links.sign with purpose
"api" (`rectify api-token`), never a mail login link: a forwarded mail cannot drive the API.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from models import Person
from rectify.links import BadLink, verify
from rectify.services.access import Viewer
from rectify.services.findings import Actor

COOKIE = "rectify_session"
API_PURPOSE = "api"


class SignInRequired(Exception):
    """No valid session (pages redirect to the sign-in page; the API answers 401)."""


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True)
class WebSession:
    person_id: int | None
    csrf: str
    expires: int  # unix seconds


@dataclass(frozen=True)
class Me:
    """The signed-in person, as handlers need them."""

    person: Person
    viewer: Viewer
    csrf: str  # "" for bearer-token API calls, which need none
    ip: str

    @property
    def actor(self) -> Actor:
        return Actor.of(self.person, self.ip)


def now(request: Request) -> datetime:
    """The one clock every handler reads (tests replace app.state.clock)."""
    return request.app.state.clock()


@lru_cache(maxsize=4)
def _serializer_for(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="rectify-session")


def _serializer(request: Request) -> URLSafeSerializer:
    return _serializer_for(request.app.state.rt.settings.secret)


def read_session(request: Request) -> WebSession | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request).loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    pid, csrf, exp = data.get("p"), data.get("c"), data.get("e")
    if not (pid is None or isinstance(pid, int)) or not isinstance(csrf, str) or not isinstance(exp, int):
        return None
    if now(request).timestamp() > exp:
        return None
    return WebSession(pid, csrf, exp)


def new_session(request: Request, person_id: int | None) -> WebSession:
    """A fresh session with a new CSRF token (set it on a response with set_session_cookie)."""
    hours = request.app.state.rt.settings.web.session_max_age_hours
    return WebSession(person_id, secrets.token_urlsafe(24), int((now(request) + timedelta(hours=hours)).timestamp()))


def set_session_cookie(request: Request, response: Response, session: WebSession) -> None:
    settings = request.app.state.rt.settings
    value = _serializer(request).dumps({"p": session.person_id, "c": session.csrf, "e": session.expires})
    response.set_cookie(COOKIE, value, max_age=settings.web.session_max_age_hours * 3600, path="/",
                        httponly=True, samesite="lax", secure=settings.public_url.startswith("https://"))


def start_session(request: Request, response: Response, person_id: int | None) -> WebSession:
    """Replace whatever session the browser had (signing in never keeps an old CSRF token)."""
    session = new_session(request, person_id)
    set_session_cookie(request, response, session)
    return session


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _person(s: Session, person_id: int) -> Person | None:
    person = s.get(Person, person_id)
    return person if person is not None and person.active else None


def signed_in(request: Request, s: Session) -> Me:
    """The person behind the session cookie; SignInRequired if there is none (or they left)."""
    session = read_session(request)
    if session is None or session.person_id is None:
        raise SignInRequired
    person = _person(s, session.person_id)
    if person is None:
        raise SignInRequired
    return Me(person, Viewer.of(person), session.csrf, client_ip(request))


def api_caller(request: Request, s: Session) -> Me:
    """Bearer token first; else the cookie session, whose writes then need X-CSRF-Token."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SignInRequired
        try:
            pid = verify(request.app.state.rt.settings.secret, token.strip(), now=now(request),
                         purpose=API_PURPOSE)
        except BadLink:
            raise SignInRequired from None
        person = _person(s, pid)
        if person is None:
            raise SignInRequired
        return Me(person, Viewer.of(person), "", client_ip(request))
    me = signed_in(request, s)
    if request.method not in ("GET", "HEAD"):
        check_csrf(me.csrf, request.headers.get("x-csrf-token", ""))
    return me


def check_csrf(expected: str, given: str | None) -> None:
    if not expected or not given or not secrets.compare_digest(expected.encode(), str(given).encode()):
        raise CsrfFailed


def safe_next(target: str | None, default: str = "/findings") -> str:
    """Only a path on this site: '/findings/3' yes; 'https://evil', '//evil', '/\\evil' no."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 0x20 or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
