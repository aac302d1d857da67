"""Ending access: the per-person "valid after" stamp and the API tokens table (issue 13).

A sign-in link, a form session or an API token counts only if it was issued at or after the person's
`valid_after`; signing out, `rectify people revoke` and deactivation move the stamp to now, which ends
every session and mail link that person had. API tokens are rows: each can be listed and revoked, and
revoking or deactivating a person revokes theirs too. One access check for all three: `still_valid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import ApiToken, Person
from rectify.links import Token, sign
from rectify.services.people import PeopleError, find_person

API_PURPOSE = "api"


def still_valid(s: Session, token: Token, now: datetime) -> Person | None:
    """The active person behind a token issued after their last revocation, else None.

    API tokens (token_id set) must also have a live row for that person.
    """
    person = s.get(Person, token.person_id)
    if person is None or not counts(person.active, person.valid_after, token.issued):
        return None
    if token.token_id is not None:
        row = s.get(ApiToken, token.token_id)
        if row is None or row.person_id != person.id or row.revoked_at is not None or row.expires_at < now:
            return None
    return person


def counts(active: bool, valid_after: datetime | None, issued: datetime) -> bool:
    """The rule itself, for callers that read the two columns without loading the person (the form's
    per-request session check): active, and issued at or after the last revocation."""
    return bool(active) and (valid_after is None or issued >= valid_after)


def revoke_sessions(person: Person, now: datetime) -> None:
    """End every session and sign-in link of this person issued until now."""
    if person.valid_after is None or person.valid_after < now:
        person.valid_after = now


def revoke_tokens(s: Session, person_id: int, now: datetime) -> int:
    """Revoke all live API tokens of a person; returns how many."""
    res = s.execute(update(ApiToken).where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))
    return res.rowcount or 0


def revoke_person(s: Session, email: str, now: datetime) -> tuple[Person, int]:
    """`rectify people revoke`: sessions, mail links and API tokens of one person end now."""
    person = find_person(s, email)
    revoke_sessions(person, now)
    return person, revoke_tokens(s, person.id, now)


@dataclass(frozen=True)
class Issued:
    token: str
    row: ApiToken


def issue_api_token(s: Session, secret: str, email: str, now: datetime, *, days: int, max_days: int,
                    note: str = "") -> Issued:
    """A bearer token for one active person, valid `days` (at most `max_days`)."""
    if not 1 <= days <= max_days:
        raise PeopleError(f"--days must be between 1 and {max_days} (web.api_token_max_days)")
    person = find_person(s, email)
    if not person.active:
        raise PeopleError(f"no active person with the e-mail address {email!r}")
    row = ApiToken(person_id=person.id, created_at=now, expires_at=now + timedelta(days=days), note=note[:200])
    s.add(row)
    s.flush()
    token = sign(secret, person.id, now=now, max_age=timedelta(days=days), purpose=API_PURPOSE, token_id=row.id)
    return Issued(token, row)


def list_api_tokens(s: Session, email: str | None = None) -> list[tuple[ApiToken, Person]]:
    q = select(ApiToken, Person).join(Person, ApiToken.person_id == Person.id).order_by(ApiToken.id)
    if email:
        q = q.where(func.lower(Person.email) == email.strip().lower())
    return [(t, p) for t, p in s.execute(q)]


def revoke_api_token(s: Session, token_id: int, now: datetime) -> ApiToken:
    row = s.get(ApiToken, token_id)
    if row is None:
        raise PeopleError(f"no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row
