"""Signed, expiring links bound to one person. The expiry is inside the signed payload, so checking a
link takes `now` as a parameter like everything else (no hidden clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer


class BadLink(Exception):
    """Forged, tampered, expired, or for another purpose."""


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"rectify-link:{purpose}")


def sign(secret: str, person_id: int, *, now: datetime, max_age: timedelta, purpose: str = "login") -> str:
    expires = int((now + max_age).timestamp())
    return _serializer(secret, purpose).dumps({"p": person_id, "e": expires})


def verify(secret: str, token: str, *, now: datetime, purpose: str = "login") -> int:
    """The person id the token was made for; BadLink if it is not genuine or has expired."""
    try:
        data = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise BadLink("this link is not valid") from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), int) or not isinstance(data.get("e"), int):
        raise BadLink("this link is not valid")
    if now.timestamp() > data["e"]:
        raise BadLink("this link has expired")
    return data["p"]


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
