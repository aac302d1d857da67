"""Sign-in links by e-mail, for people without a fresh link from a reminder.

The message goes through the outbox like every mail. Rate limit: at most SIGNIN_PER_DAY messages
to one address per day, enforced by the outbox's unique dedupe key (suffixes #1..#N), so two
simultaneous requests cannot both take the last slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from models import OutboxMessage, Person
from rectify.links import login_url
from rectify.mail.compose import build_message
from rectify.mail.outbox import Queued, dedupe_key, enqueue
from rectify.runtime import Runtime
from rectify.templating import render, render_subject

SIGNIN_PER_DAY = 5
SIGNIN_LINK_HOURS = 24
KIND = "signin"


def normalise_email(text: str) -> str:
    return text.strip().lower()[:254]


def request_link(rt: Runtime, email: str, now: datetime, next_path: str) -> int | None:
    """Queue a sign-in mail if the address belongs to an active person and today's quota allows.

    Returns the outbox row id to deliver, or None (unknown address, inactive, or over the limit).
    The caller answers the same in every case, so the page never reveals who is registered.
    """
    email = normalise_email(email)
    if "@" not in email:
        return None
    day = now.astimezone(rt.tz).date()
    with rt.sessions() as s, s.begin():
        person = s.scalar(select(Person).where(func.lower(Person.email) == email, Person.active.is_(True)))
        if person is None:
            return None
        base = dedupe_key(email, day, KIND)
        sent_today = s.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.dedupe_key.startswith(base + "#", autoescape=True))) or 0
        if sent_today >= SIGNIN_PER_DAY:
            return None
        settings = rt.settings
        url = login_url(settings.public_url, settings.secret, person.id, now=now,
                        max_age=timedelta(hours=SIGNIN_LINK_HOURS), next_path=next_path)
        ctx = {"person": person, "url": url, "hours": SIGNIN_LINK_HOURS, "now": now.astimezone(rt.tz)}
        msg = build_message(from_addr=settings.smtp.from_addr, from_name=settings.smtp.from_name, to=email,
                            to_name=person.name, subject=render_subject("mail/signin.subject.txt", **ctx),
                            text=render("mail/signin.txt", **ctx), html=render("mail/signin.html", **ctx),
                            now=now)
        suffix = f"#{sent_today + 1}"
        if not enqueue(s, [Queued(email, KIND, day, msg, meta={"person_id": person.id}, key_suffix=suffix)], now):
            return None  # a simultaneous request took this slot
        return s.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == base + suffix))
