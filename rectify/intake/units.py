"""`units import`: the unit directory (单位名录) from a sheet, updated in place on every re-import.

Columns: 单位名称, 简称/别名, 类型, 联系人, 联系人邮箱, 主要负责人, 负责人邮箱 (see headers.UNIT_ALIASES), and
optionally each person's 手机, 企业微信账号 and 钉钉账号 (联系人手机 … 负责人钉钉账号; a bare 手机 is the contact's).

- A unit is matched by its name, compared as `cells.unit_key` does (trimmed, half-width, no county prefix);
  a match takes the file's spelling. Unit.sort_order becomes the row order of the file.
- 简称/别名 replaces the unit's aliases when the column is there. 类型 empty keeps the type (new: 县直单位).
- Contacts and leaders are Person rows (role unit_contact / unit_leader). A person is known by e-mail:
  an address already in the directory is that person, moved to this unit and role. The previous holder of
  the slot is deactivated, unless the new address only replaces the old one of the same name (then the
  address is updated in place). Empty name and e-mail cells leave the slot as it is.
- Channel columns (手机, 企业微信账号, 钉钉账号) are optional: a column that is there sets the person's value
  (an empty cell clears it); a column that is not there leaves the stored value alone.
- All or nothing: any bad row and nothing is written (ImportRejected lists every bad cell).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Person, Unit
from rectify.intake.cells import (
    CellError,
    cell_text,
    parse_email,
    parse_mobile,
    parse_userid,
    split_list,
    squeeze,
    unit_key,
)
from rectify.intake.errors import ImportRejected, IntakeError, RowError, shown
from rectify.intake.headers import unit_spec
from rectify.intake.read import Source, read_table
from rectify.templating import labels

UNIT_ROLES = ("unit_contact", "unit_leader")
_SLOTS = (("contact", "contact_email", "unit_contact"), ("leader", "leader_email", "unit_leader"))
# Per slot prefix: (column suffix, Person attribute, parser).
CHANNEL_FIELDS = (("mobile", "mobile", parse_mobile, "bad_mobile"),
                  ("wecom", "wecom_userid", parse_userid, "bad_userid"),
                  ("dingtalk", "dingtalk_userid", parse_userid, "bad_userid"))


@dataclass
class UnitImport:
    """What a units import did (or, rejected, would have done)."""

    source: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    people: Counter[str] = field(default_factory=Counter)  # created / updated / deactivated
    ignored_columns: list[str] = field(default_factory=list)
    kept_inactive: list[str] = field(default_factory=list)  # e-mails of people who left (people deactivate)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "people": dict(self.people), "ignored_columns": self.ignored_columns,
                "kept_inactive": self.kept_inactive}


@dataclass
class _Row:
    number: int
    name: str
    key: str
    aliases: list[str] | None
    kind: str | None
    people: dict[str, tuple[str, str]]  # role → (name, email)
    channels: dict[str, dict[str, str | None]] = field(default_factory=dict)  # role → {attribute: value}


def _kinds() -> dict[str, str]:
    out = {squeeze(label): key for key, label in labels()["unit_kind"].items()}
    out.update({key: key for key in labels()["unit_kind"]})
    out.update({"县直": "county", "县直部门": "county", "乡镇": "township", "街道": "township",
                "乡镇(街道)": "township"})
    return out


def import_units(session: Session, source: Source, *, filename: str | None = None, sheet: str | None = None,
                 county_prefix: str = "") -> UnitImport:
    """Read, check and write the unit directory. Raises ImportRejected; the caller commits."""
    table = read_table(source, unit_spec(), filename=filename, sheet=sheet)
    header = table.header
    if "name" not in header.columns:
        raise IntakeError("missing_columns", name=table.name, columns=unit_spec().title("name"))
    report = UnitImport(table.name, ignored_columns=header.ignored)
    errors: list[RowError] = []
    kinds = _kinds()
    rows: list[_Row] = []
    seen_unit: dict[str, int] = {}
    seen_email: dict[str, int] = {}

    def bad(number: int, key: str, value: Any, code: str, **params: Any) -> None:
        errors.append(RowError(number, header.typed.get(key, ""), shown(value), code, params))

    for number, cells in table.rows:
        values = {k: header.get(cells, k) for k in header.columns}
        if not any(cell_text(v) for v in values.values()):
            continue
        report.rows += 1
        name = " ".join(cell_text(values.get("name")).split())
        ok = True
        if not name:
            bad(number, "name", "", "required")
            ok = False
        elif len(name) > 200:
            bad(number, "name", name, "too_long", limit=200)
            ok = False
        key = unit_key(name, county_prefix)
        if ok and key in seen_unit:
            bad(number, "name", name, "duplicate_unit", other=seen_unit[key])
            ok = False
        seen_unit.setdefault(key, number)
        named = ok  # a row with a usable name takes part in the name checks even if other cells are bad
        aliases = None
        if "aliases" in header.columns:
            aliases = [a for a in split_list(values.get("aliases")) if unit_key(a, county_prefix) != key]
            for a in aliases:
                if len(a) > 200:
                    bad(number, "aliases", a, "too_long", limit=200)
        kind = None
        raw_kind = cell_text(values.get("kind"))
        if raw_kind:
            kind = kinds.get(squeeze(raw_kind))
            if kind is None:
                bad(number, "kind", raw_kind, "bad_kind")
        people: dict[str, tuple[str, str]] = {}
        channels: dict[str, dict[str, str | None]] = {}
        for name_col, email_col, role in _SLOTS:
            person = " ".join(cell_text(values.get(name_col)).split())
            given = _channel_cells(number, name_col, values, header.columns, bad)
            if given and any(v for v in given.values()) and not (person or values.get(email_col)):
                col = next(f"{name_col}_{suffix}" for suffix, attr, _, _ in CHANNEL_FIELDS if given.get(attr))
                bad(number, col, "", "channel_without_person")
            channels[role] = given
            raw_email = values.get(email_col)
            try:
                email = parse_email(raw_email)
            except CellError:
                bad(number, email_col, raw_email, "bad_email")
                continue
            if person and not email:
                bad(number, email_col, "", "missing_email")
            elif email and not person:
                bad(number, name_col, "", "missing_name")
            elif email and person:
                if len(person) > 100:
                    bad(number, name_col, person, "too_long", limit=100)
                elif email in seen_email:
                    other = seen_email[email]
                    bad(number, email_col, email, "same_email" if other == number else "email_twice", other=other)
                else:
                    seen_email[email] = number
                    people[role] = (person, email)
        if named:
            rows.append(_Row(number, name, key, aliases, kind, people,
                             {role: given for role, given in channels.items() if role in people}))

    units = list(session.scalars(select(Unit)))
    by_key = {unit_key(u.name, county_prefix): u for u in units}
    persons = {p.email: p for p in session.scalars(select(Person).where(Person.email.is_not(None)))}
    role_label = labels()["role"]
    for row in rows:
        for role, (_, email) in row.people.items():
            p = persons.get(email)
            if p is not None and p.role not in UNIT_ROLES:
                col = "contact_email" if role == "unit_contact" else "leader_email"
                bad(row.number, col, email, "email_taken", who=f"{role_label.get(p.role, p.role)}{p.name}")
    _check_names(rows, units, by_key, county_prefix, bad)
    if errors:
        raise ImportRejected(table.name, errors, report)

    _write(session, rows, by_key, persons, report)
    return report


def _channel_cells(number: int, slot: str, values: dict[str, Any], columns: dict[str, int],
                   bad: Any) -> dict[str, str | None]:
    """The slot's channel cells whose column is in the file: {Person attribute: value or None}."""
    out: dict[str, str | None] = {}
    for suffix, attr, parse, code in CHANNEL_FIELDS:
        col = f"{slot}_{suffix}"
        if col not in columns:
            continue
        raw = values.get(col)
        try:
            out[attr] = parse(raw)
        except CellError:
            bad(number, col, raw, code)
    return out


def _check_names(rows: list[_Row], units: list[Unit], by_key: dict[str, Unit], county_prefix: str,
                 bad: Any) -> None:
    """No name or alias may stand for two units once the file is applied."""
    in_file = {id(by_key[r.key]) for r in rows if r.key in by_key}
    owner: dict[str, tuple[str, int | None]] = {}  # key → (unit name, file row or None)
    for u in units:
        if id(u) in in_file:
            continue
        for n in (u.name, *(u.aliases or [])):
            owner.setdefault(unit_key(n, county_prefix), (u.name, None))
    for r in rows:
        existing = by_key.get(r.key)
        aliases = r.aliases if r.aliases is not None else list(existing.aliases or []) if existing else []
        for i, n in enumerate((r.name, *aliases)):
            k = unit_key(n, county_prefix)
            other = owner.get(k)
            if other is not None and other[0] != r.name:
                bad(r.number, "name" if i == 0 else "aliases", n, "name_clash", name=n, other=other[0])
            else:
                owner[k] = (r.name, r.number)


def _write(session: Session, rows: list[_Row], by_key: dict[str, Unit], persons: dict[str, Person],
           report: UnitImport) -> None:
    units: list[tuple[_Row, Unit]] = []
    changed: set[int] = set()  # id() of units whose row or people changed
    for order, row in enumerate(rows, start=1):
        u = by_key.get(row.key)
        if u is None:
            u = Unit(name=row.name, aliases=row.aliases or [], kind=row.kind or "county", sort_order=order)
            session.add(u)
            report.created += 1
        else:
            before = (u.name, list(u.aliases or []), u.kind, u.sort_order)
            u.name = row.name
            if row.aliases is not None and row.aliases != list(u.aliases or []):
                u.aliases = list(row.aliases)
            if row.kind:
                u.kind = row.kind
            u.sort_order = order
            if before != (u.name, list(u.aliases or []), u.kind, u.sort_order):
                changed.add(id(u))
        units.append((row, u))
    session.flush()

    wanted = {email for r in rows for _, email in r.people.values()}
    holders: dict[tuple[int, str], list[Person]] = {}
    unit_of: dict[int, Unit] = {u.id: u for _, u in units}
    if unit_of:
        query = select(Person).where(Person.unit_id.in_(list(unit_of)), Person.role.in_(UNIT_ROLES),
                                     Person.active.is_(True)).order_by(Person.id)
        for p in session.scalars(query):
            holders.setdefault((p.unit_id or 0, p.role), []).append(p)
    assigned: set[int] = set()
    retire: list[Person] = []
    for row, u in units:
        for role, (name, email) in row.people.items():
            current = holders.get((u.id, role), [])
            p = persons.get(email)
            if p is None and current and current[0].name == name and current[0].email not in wanted:
                p = current[0]  # the same person with a new address
            reach = row.channels.get(role, {})
            if p is None:
                p = Person(name=name, email=email, role=role, unit_id=u.id, active=True, **reach)
                session.add(p)
                persons[email] = p
                report.people["created"] += 1
                changed.add(id(u))
            else:
                before = (p.name, p.email, p.role, p.unit_id, p.active, *(getattr(p, a) for a in reach))
                active = p.left_at is None  # someone removed with `people deactivate` stays removed
                if not active and email not in report.kept_inactive:
                    report.kept_inactive.append(email)
                p.name, p.email, p.role, p.unit_id, p.active = name, email, role, u.id, active
                for attr, value in reach.items():
                    setattr(p, attr, value)
                if before != (p.name, p.email, p.role, p.unit_id, p.active, *(getattr(p, a) for a in reach)):
                    report.people["updated"] += 1
                    changed.add(id(u))
            assigned.add(id(p))
            retire.extend(h for h in current if h is not p)
    for h in retire:
        if id(h) not in assigned and h.active:
            h.active = False
            report.people["deactivated"] += 1
            if h.unit_id in unit_of:
                changed.add(id(unit_of[h.unit_id]))
    session.flush()
    existing = [u for r, u in units if r.key in by_key]
    report.updated = sum(1 for u in existing if id(u) in changed)
    report.unchanged = len(existing) - report.updated
