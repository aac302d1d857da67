"""Signed, expiring links bound to one person. The expiry is inside the signed payload, so checking a
link takes `now` as a parameter like everything else (no hidden clock)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote

from itsdangerous import BadSignature, Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode


class BadLink(Exception):
    """Forged, tampered, expired, or for another purpose."""


class _Serializer(URLSafeSerializer):
    """URLSafeSerializer without the compression attempt on dumping.

    itsdangerous zlib-compresses every payload to see whether that is shorter; ours are ~60 bytes of JSON,
    which compression never shortens, so every token was already uncompressed (the same tokens come out),
    and the attempt cost ~0.1 ms per letter, a tenth of rendering one. Loading still accepts either form."""

    def dump_payload(self, obj: object) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


@lru_cache(maxsize=16)
def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    """One per secret and purpose (a daily run signs a link for every letter; the form checks one per request)."""
    return _Serializer(secret, salt=f"rectify-link:{purpose}")


@dataclass(frozen=True)
class Token:
    person_id: int
    issued: datetime  # compared with the person's valid_after (revocation)
    expires: datetime
    token_id: int | None = None  # API tokens: the api_tokens row


def sign(secret: str, person_id: int, *, now: datetime, max_age: timedelta, purpose: str = "login",
         token_id: int | None = None) -> str:
    expires = int((now + max_age).timestamp())
    payload: dict[str, int | float] = {"p": person_id, "e": expires, "i": issued_stamp(now)}
    if token_id is not None:
        payload["t"] = token_id
    return _serializer(secret, purpose).dumps(payload)


def issued_stamp(now: datetime) -> float:
    """The issue time to sign, in unix seconds, rounded DOWN to the millisecond: a token issued just
    before a revocation never reads as issued after it."""
    return math.floor(now.timestamp() * 1000) / 1000


def read_token(secret: str, token: str, *, now: datetime, purpose: str = "login") -> Token:
    """The token's content; BadLink if it is not genuine or has expired.

    Links signed before issue 13 carry no issue time: they count as issued at the epoch, so any
    revocation stamp voids them.
    """
    if len(token) > 1000:
        raise BadLink("this link is not valid")
    try:
        data = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise BadLink("this link is not valid") from None
    if not isinstance(data, dict) or not _int(data.get("p")) or not _int(data.get("e")):
        raise BadLink("this link is not valid")
    issued, token_id = data.get("i", 0), data.get("t")
    if not isinstance(issued, int | float) or isinstance(issued, bool) or (token_id is not None and not _int(token_id)):
        raise BadLink("this link is not valid")
    if now.timestamp() > data["e"]:
        raise BadLink("this link has expired")
    return Token(data["p"], datetime.fromtimestamp(issued, UTC), datetime.fromtimestamp(data["e"], UTC), token_id)


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def verify(secret: str, token: str, *, now: datetime, purpose: str = "login") -> int:
    """The person id the token was made for; BadLink if it is not genuine or has expired."""
    return read_token(secret, token, now=now, purpose=purpose).person_id


def login_url(public_url: str, secret: str, person_id: int, *, now: datetime, max_age: timedelta,
              next_path: str = "/") -> str:
    """The link a mail carries: opening it signs the person in and lands on `next_path`."""
    return login_links(public_url, secret, person_id, now=now, max_age=max_age)(next_path)


def login_links(public_url: str, secret: str, person_id: int, *, now: datetime,
                max_age: timedelta) -> Callable[[str], str]:
    """`login_url` for many pages of one mail: the token is signed once, not once per link."""
    token = sign(secret, person_id, now=now, max_age=max_age)
    base = f"{public_url.rstrip('/')}/auth/{token}?next="
    return lambda next_path="/": base + quote(next_path, safe="/")
