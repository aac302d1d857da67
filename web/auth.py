"""Sessions, CSRF and the API bearer token.

A session is one signed cookie (itsdangerous, keyed by settings.secret): the person, a random CSRF
token and the expiry, which sits inside the signed payload and is checked against the app's clock
(like mail links), so tests can move time. Signed-out visitors get an anonymous session that only
carries a CSRF token, so the sign-in form is protected too.

API clients send `Authorization: Bearer <token>`, a token from rectify.links.sign with purpose
"api" (`rectify api-token issue`), never a mail login link: a forwarded mail cannot drive the API.

Sessions and tokens carry their issue time: one issued before the person's `valid_after` (sign-out,
`rectify people revoke`, deactivation) no longer counts (rectify.services.revocation.still_valid).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from models import Person
from rectify.links import BadLink, issued_stamp, read_token
from rectify.services.access import Viewer
from rectify.services.findings import Actor
from rectify.services.revocation import API_PURPOSE, counts, still_valid

COOKIE = "rectify_session"


class SignInRequired(Exception):
    """No valid session (pages redirect to the sign-in page; the API answers 401)."""


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True)
class WebSession:
    person_id: int | None
    csrf: str
    expires: int  # unix seconds
    issued: float = 0.0  # unix seconds; compared with the person's valid_after


@dataclass(frozen=True, slots=True)
class Signed:
    """What a request needs of the signed-in person (the viewer, the actor's label, the page header):
    read as plain columns, without building an ORM object on every request."""

    id: int
    name: str
    email: str
    role: str
    unit_id: int | None
    group_id: int | None

    @classmethod
    def of(cls, person: Person) -> Signed:
        return cls(person.id, person.name, person.email, person.role, person.unit_id, person.group_id)


# One statement, built and compiled once (SQLAlchemy caches the compiled form per statement object), run as
# plain Core on the request's connection.
_SIGNED = select(Person.id, Person.name, Person.email, Person.role, Person.unit_id, Person.group_id, Person.active,
                 Person.valid_after).where(Person.id == bindparam("pid"))


@dataclass(frozen=True)
class Me:
    """The signed-in person, as handlers need them."""

    person: Signed
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
    session = _verified(request.app.state.rt.settings.secret, raw)
    if session is None or now(request).timestamp() > session.expires:
        return None
    return session


@lru_cache(maxsize=4096)
def _verified(secret: str, raw: str) -> WebSession | None:
    """The session a cookie value carries if its signature is good (None if not), remembered per value:
    the same browser sends the same cookie on every request, and checking the signature again (HMAC and
    JSON, ~0.1 ms) would give the same answer. The expiry is the caller's, against the app's clock."""
    try:
        data = _serializer_for(secret).loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    pid, csrf, exp, issued = data.get("p"), data.get("c"), data.get("e"), data.get("i", 0)
    if not (pid is None or isinstance(pid, int)) or not isinstance(csrf, str) or not isinstance(exp, int):
        return None
    if not isinstance(issued, int | float) or isinstance(issued, bool):
        return None
    return WebSession(pid, csrf, exp, float(issued))


def new_session(request: Request, person_id: int | None) -> WebSession:
    """A fresh session with a new CSRF token (set it on a response with set_session_cookie)."""
    hours = request.app.state.rt.settings.web.session_max_age_hours
    at = now(request)
    return WebSession(person_id, secrets.token_urlsafe(24), int((at + timedelta(hours=hours)).timestamp()),
                      issued_stamp(at))


def set_session_cookie(request: Request, response: Response, session: WebSession) -> None:
    settings = request.app.state.rt.settings
    value = _serializer(request).dumps({"p": session.person_id, "c": session.csrf, "e": session.expires,
                                        "i": session.issued})
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
    """The peer's address (uvicorn has already applied X-Forwarded-For from web.trusted_proxies only)."""
    return request.client.host if request.client else ""


def session_person(request: Request, db: Session | Connection, session: WebSession | None) -> Signed | None:
    """The active person a session belongs to, unless it was issued before their last revocation
    (rectify.services.revocation.counts: the rule still_valid applies to links and tokens). Asked on
    every request (a sign-out in another tab ends this session at once); `db` a Session or, cheaper for a
    page that needs no ORM, a Connection."""
    if session is None or session.person_id is None:
        return None
    conn = db.connection() if isinstance(db, Session) else db
    row = conn.execute(_SIGNED, {"pid": session.person_id}).first()
    if row is None or not counts(row.active, row.valid_after, datetime.fromtimestamp(session.issued, UTC)):
        return None
    return Signed(row.id, row.name, row.email, row.role, row.unit_id, row.group_id)


def remember_signed_in(request: Request, session: WebSession, person: Signed) -> None:
    """A POST checked the session before reading its body (web.routes_findings._read_form): the handler's
    signed_in() uses that answer, from the same request a few ms earlier, instead of asking again."""
    request.state.signed_in = (session, person)


def signed_in(request: Request, s: Session | Connection) -> Me:
    """The person behind the session cookie; SignInRequired if there is none (or they left, or signed out)."""
    checked = getattr(request.state, "signed_in", None)
    if checked is not None:
        session, person = checked
    else:
        session = read_session(request)
        person = session_person(request, s, session)
    if session is None or person is None:
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
            parsed = read_token(request.app.state.rt.settings.secret, token.strip(), now=now(request),
                                purpose=API_PURPOSE)
        except BadLink:
            raise SignInRequired from None
        person = still_valid(s, parsed, now(request)) if parsed.token_id is not None else None
        if person is None:
            raise SignInRequired
        return Me(Signed.of(person), Viewer.of(person), "", client_ip(request))
    me = signed_in(request, s)
    if request.method not in ("GET", "HEAD"):
        check_csrf(me.csrf, request.headers.get("x-csrf-token", ""))
    return me


def check_csrf(expected: str, given: str | None) -> None:
    if not expected or not given or not secrets.compare_digest(expected.encode(), str(given).encode()):
        raise CsrfFailed


def check_origin(request: Request) -> None:
    """CsrfFailed when the browser says the request comes from another site (Origin header).

    Browsers send Origin on every form POST; a request without one (a script, an old client) still
    needs the CSRF token. Checked before the body is read.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    own = {f"{request.url.scheme}://{request.url.netloc}",
           request.app.state.rt.settings.public_url.rstrip("/")}
    if origin.rstrip("/") not in own:
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
