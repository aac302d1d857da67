"""The directory the daily run routes by, read in a few small queries (units, people, groups)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from models import Person, SupervisionGroup, Unit
from rectify.core.routing import Contact, Directory

ROLES = ("unit_contact", "unit_leader", "supervisor")


def unit_rank_key(kind: str, sort_order: int, unit_id: int) -> tuple[int, int, int]:
    """Display order: county departments (县直单位) before townships, then the configured order."""
    return (0 if kind == "county" else 1, sort_order, unit_id)


def load_directory(session: Session | Connection, command_office: list[str], people: Iterable[int] = ()) -> Directory:
    """Units, their contacts and leaders, groups and their supervisors, the command office, and the
    active people among `people` (the closers of today's 回头看 items) by id."""
    units = session.execute(select(Unit.id, Unit.name, Unit.kind, Unit.sort_order)).all()
    ranked = sorted(units, key=lambda u: unit_rank_key(u[2], u[3], u[0]))
    groups = dict(session.execute(select(SupervisionGroup.id, SupervisionGroup.name)).all())

    contacts: dict[int, list[Contact]] = defaultdict(list)
    leaders: dict[int, list[Contact]] = defaultdict(list)
    members: dict[int, list[Contact]] = defaultdict(list)
    rows = session.execute(
        select(Person.id, Person.name, Person.email, Person.role, Person.unit_id, Person.group_id)
        .where(Person.active.is_(True), Person.role.in_(ROLES))
        .order_by(Person.id)
    ).all()
    for pid, name, email, role, unit_id, group_id in rows:  # unpacked: ten thousand rows and more
        c = Contact(name, (email or "").strip().lower() or None, pid)
        if role == "unit_contact" and unit_id is not None:
            contacts[unit_id].append(c)
        elif role == "unit_leader" and unit_id is not None:
            leaders[unit_id].append(c)
        elif role == "supervisor" and group_id is not None:
            members[group_id].append(c)

    # The command office is a list of addresses; an address that belongs to a person gets that
    # person's signed links, any other gets none (it has no account to sign in to).
    office = [e.strip().lower() for e in command_office if e.strip()]
    known = dict(session.execute(
        select(func.lower(Person.email), Person.id).where(Person.active.is_(True), func.lower(Person.email).in_(office))
    ).all()) if office else {}
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(list(known.values()))))
                 .all()) if known else {}
    office_contacts = tuple(Contact(names.get(known.get(e, -1), ""), e, known.get(e)) for e in dict.fromkeys(office))

    wanted = sorted(set(people))
    by_id: dict[int, Contact] = {}
    for i in range(0, len(wanted), 5000):
        for p in session.execute(select(Person.id, Person.name, Person.email)
                                 .where(Person.id.in_(wanted[i:i + 5000]), Person.active.is_(True))):
            by_id[p.id] = Contact(p.name, (p.email or "").strip().lower() or None, p.id)

    return Directory(
        units={u[0]: u[1] for u in units},
        contacts=dict(contacts),
        leaders=dict(leaders),
        groups=groups,
        members=dict(members),
        command_office=office_contacts,
        unit_rank={u[0]: i for i, u in enumerate(ranked)},
        people=by_id,
    )
