"""People who sign in and receive mail beyond the unit directory: supervisors (督导组成员) and admins.

Unit contacts and leaders come from `rectify units import`; this is where the command office adds the
supervision groups' members and its own staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Person, SupervisionGroup, Unit
from rectify.intake.cells import CellError, parse_email, parse_mobile, parse_userid, unit_key

ROLES = ("admin", "supervisor", "unit_contact", "unit_leader")


class PeopleError(ValueError):
    """A person cannot be added as asked; the message says what to fix."""


@dataclass(frozen=True)
class Added:
    person: Person
    created: bool  # False: an existing person (same e-mail) was updated


def _email(value: str) -> str:
    try:
        email = parse_email(value)
    except CellError:
        email = None
    if not email:
        raise PeopleError(f"{value!r} is not an e-mail address")
    return email


def _group(session: Session, name: str | None) -> SupervisionGroup:
    if not name:
        raise PeopleError("a supervisor needs --group (the supervision group, e.g. 第一督导组)")
    group = session.scalar(select(SupervisionGroup).where(SupervisionGroup.name == name.strip()))
    if group is None:
        group = SupervisionGroup(name=name.strip())  # groups also arrive with the findings; either may come first
        session.add(group)
        session.flush()
    return group


def _unit(session: Session, name: str | None, county_prefix: str) -> Unit:
    if not name:
        raise PeopleError("a unit contact or leader needs --unit")
    want = unit_key(name, county_prefix)
    for unit in session.scalars(select(Unit)):
        if want in {unit_key(n, county_prefix) for n in [unit.name, *unit.aliases]}:
            return unit
    raise PeopleError(f"no unit named {name!r}: import the unit directory first (rectify units import)")


def _reach(mobile: str | None, wecom: str | None, dingtalk: str | None) -> dict[str, str | None]:
    """The channel values given (None: not given, keep; "": clear), checked like the directory import."""
    out: dict[str, str | None] = {}
    for attr, value, parse, what in (("mobile", mobile, parse_mobile, "mobile number"),
                                      ("wecom_userid", wecom, parse_userid, "企业微信 userid"),
                                      ("dingtalk_userid", dingtalk, parse_userid, "钉钉 userid")):
        if value is None:
            continue
        try:
            out[attr] = parse(value)
        except CellError:
            raise PeopleError(f"{value!r} is not a {what}") from None
    return out


def add_person(session: Session, *, name: str, email: str, role: str, group: str | None = None,
               unit: str | None = None, county_prefix: str = "", mobile: str | None = None,
               wecom: str | None = None, dingtalk: str | None = None) -> Added:
    """Add someone, or update the person with that e-mail (role, group, unit, name; reactivated).

    mobile / wecom / dingtalk: where IM and SMS reach them; None keeps the stored value, "" clears it.
    """
    reach = _reach(mobile, wecom, dingtalk)
    if role not in ROLES:
        raise PeopleError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if not name.strip():
        raise PeopleError("a person needs a name")
    address = _email(email)
    group_id = _group(session, group).id if role == "supervisor" else None
    unit_id = _unit(session, unit, county_prefix).id if role in ("unit_contact", "unit_leader") else None
    person = session.scalar(select(Person).where(func.lower(Person.email) == address))
    created = person is None
    if person is None:
        person = Person(email=address)
        session.add(person)
    person.name, person.role, person.group_id, person.unit_id, person.active, person.left_at = (
        name.strip(), role, group_id, unit_id, True, None)
    for attr, value in reach.items():
        setattr(person, attr, value)
    session.flush()
    return Added(person, created)


def find_person(session: Session, email: str) -> Person:
    person = session.scalar(select(Person).where(func.lower(Person.email) == _email(email)))
    if person is None:
        raise PeopleError(f"no person with the e-mail address {email!r}")
    return person


def deactivate(session: Session, email: str, now: datetime) -> Person:
    """Someone left: no more mail, no more sign-in; their history stays.

    Their sessions, mail links and API tokens end too, so adding them again later does not revive them.
    """
    from rectify.services.revocation import revoke_sessions, revoke_tokens

    person = find_person(session, email)
    person.active, person.left_at = False, now
    revoke_sessions(person, now)
    revoke_tokens(session, person.id, now)
    return person


def list_people(session: Session, role: str | None = None) -> list[tuple[Person, str]]:
    """(person, their group or unit name), admins first, then by group/unit and name."""
    q = (select(Person, func.coalesce(SupervisionGroup.name, Unit.name, ""))
         .outerjoin(SupervisionGroup, Person.group_id == SupervisionGroup.id)
         .outerjoin(Unit, Person.unit_id == Unit.id))
    if role:
        q = q.where(Person.role == role)
    rows = [(p, where) for p, where in session.execute(q)]
    return sorted(rows, key=lambda r: (ROLES.index(r[0].role) if r[0].role in ROLES else 9, r[1], r[0].name))


def reach_text(person: Person) -> str:
    """' 手机 138…  企业微信 zhangsan  钉钉 0123' for the channels a person has; empty when none."""
    parts = [f"{label} {value}" for label, value in (("手机", person.mobile), ("企业微信", person.wecom_userid),
                                                      ("钉钉", person.dingtalk_userid)) if value]
    return ("  " + "  ".join(parts)) if parts else ""
