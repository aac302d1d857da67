"""Who receives which of today's ladder actions: one letter per e-mail address per day. Pure.

The planner says what happens to each finding; routing turns that into letters. An action reaches
every audience its step names (unit contact, unit leader, the finding's supervision group, the
command office); a 回头看 goes to the supervisor who closed the finding. Addresses are the identity:
a person who is also on the command-office list gets one letter holding both roles' items. Nobody is
dropped silently: an audience without a usable address is reported as unreachable, and an action
nobody can receive is held back (not escalated) so that it comes up again once the directory is fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from rectify.core.ladder import PlannedAction

UNIT_CONTACT, UNIT_LEADER, GROUP, COMMAND_OFFICE = "unit_contact", "unit_leader", "group", "command_office"
CLOSER = "closer"  # the supervisor who closed a finding (回头看); the finding's group when unreachable
REVIEW_AUDIENCE = (UNIT_CONTACT,)  # 长期坚持 reviews go to the unit's contact only
HANDOVER_AUDIENCE = (UNIT_CONTACT,)  # a reassigned finding: the new unit's contact is told once
REPLAN_AUDIENCE = (UNIT_CONTACT,)  # a deadline re-planned by an imported holiday notice: told once
AUDIENCE_OF_KIND = {"review": REVIEW_AUDIENCE, "handover": HANDOVER_AUDIENCE, "recheck": (CLOSER,),
                    "signoff": (UNIT_LEADER,), "replan": REPLAN_AUDIENCE,
                    # 签收 and 进展反馈 (issue 15): the unit's contact is asked to acknowledge a new finding and to
                    # make a due progress report; an acknowledgement past its day goes to the group, like a 催办.
                    "ack": (UNIT_CONTACT,), "progress": (UNIT_CONTACT,), "ack_overdue": (GROUP,)}
OVERSEERS = frozenset({GROUP, COMMAND_OFFICE, CLOSER})

# Urgency of an action kind: the subject names the most urgent kind in a letter.
RANK = {"review": 0, "progress": 1, "replan": 2, "recheck": 3, "signoff": 4, "ack": 5, "handover": 6, "remind": 7,
        "ack_overdue": 8, "urge": 9, "supervise": 10, "notify": 11}
KINDS_BY_URGENCY = ("notify", "supervise", "urge", "ack_overdue", "remind", "handover", "ack", "signoff", "recheck",
                    "replan", "progress", "review")


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone who may receive mail. `email` None: known but unreachable. `person_id` None: no account."""

    name: str
    email: str | None
    person_id: int | None = None


@dataclass(frozen=True)
class Directory:
    units: Mapping[int, str]  # unit id → name
    contacts: Mapping[int, Sequence[Contact]]  # unit id → active unit contacts
    leaders: Mapping[int, Sequence[Contact]]  # unit id → active unit leaders
    groups: Mapping[int, str]  # group id → name
    members: Mapping[int, Sequence[Contact]]  # group id → active supervisors
    command_office: Sequence[Contact] = ()
    unit_rank: Mapping[int, int] = field(default_factory=dict)  # unit id → display order
    people: Mapping[int, Contact] = field(default_factory=dict)  # person id → active person (closers)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a finding sits: the unit that owes it, the group that oversees it, and who closed it."""

    unit_id: int
    group_id: int | None
    closer_id: int | None = None


@dataclass(frozen=True, slots=True)
class Item:
    action: PlannedAction
    unit_id: int
    group_id: int | None


@dataclass
class Letter:
    email: str  # lower-case; the outbox dedupe key is (email, day, "daily")
    name: str
    person_id: int | None
    roles: set[str] = field(default_factory=set)
    items: list[Item] = field(default_factory=list)
    group_ids: set[int] = field(default_factory=set)  # groups this address oversees items for

    @property
    def top_kind(self) -> str:
        return max((i.action.kind for i in self.items), key=RANK.__getitem__)

    @property
    def unit_ids(self) -> list[int]:
        seen: dict[int, None] = {}
        for i in self.items:
            seen.setdefault(i.unit_id)
        return list(seen)

    @property
    def overseer(self) -> bool:
        """Supervision group, command office and 回头看 letters list items per unit."""
        return bool(self.roles & OVERSEERS)


@dataclass(frozen=True, slots=True)
class Unreachable:
    """An audience that should have been told and could not be: nobody listed, or nobody with an address."""

    audience: str
    reason: str  # no_person / no_email / no_group
    unit_id: int | None
    group_id: int | None
    finding_id: int


@dataclass
class Routing:
    letters: dict[str, Letter]
    delivered: list[PlannedAction]  # actions that reach at least one address: these are applied
    held: list[PlannedAction]  # reach nobody: not applied, they come up again tomorrow
    unreachable: list[Unreachable]
    recipients_of: dict[tuple[int, str], list[str]]  # (finding id, kind) → addresses it was routed to


def audience_of(action: PlannedAction) -> tuple[str, ...]:
    if action.step is None:
        return AUDIENCE_OF_KIND[action.kind]
    return action.step.audience


def urgency_key(item: Item, unit_rank: Mapping[int, int]) -> tuple:
    """Most urgent first: the highest level, then the most overdue, then unit order, then finding."""
    days = item.action.days if item.action.days is not None else -10**6
    return (-RANK[item.action.kind], -days, unit_rank.get(item.unit_id, item.unit_id), item.action.finding_id)


def _candidates(audience: str, target: Target, d: Directory) -> tuple[Sequence[Contact], str]:
    """The contacts one audience means for one finding, and why there are none if so."""
    match audience:
        case "unit_contact":
            return d.contacts.get(target.unit_id, ()), "no_person"
        case "unit_leader":
            return d.leaders.get(target.unit_id, ()), "no_person"
        case "group":
            if target.group_id is None:
                return (), "no_group"
            return d.members.get(target.group_id, ()), "no_person"
        case "command_office":
            return d.command_office, "no_person"
        case "closer":  # the supervisor who closed it; if gone or without an address, the finding's group
            closer = d.people.get(target.closer_id) if target.closer_id is not None else None
            if closer is not None and closer.email:
                return (closer,), "no_person"
            if target.group_id is None:
                return (), "no_group"
            return d.members.get(target.group_id, ()), "no_person"
    raise ValueError(f"unknown audience {audience!r}")


def route(actions: Iterable[PlannedAction], targets: Mapping[int, Target], directory: Directory) -> Routing:
    """Letters for today's actions; see the module docstring for the rules."""
    letters: dict[str, Letter] = {}
    delivered: list[PlannedAction] = []
    held: list[PlannedAction] = []
    unreachable: list[Unreachable] = []
    recipients_of: dict[tuple[int, str], list[str]] = {}
    # One lower-cased string per address, not one per item: a million-finding first day lists ~1.3 million
    # items, and `recipients_of` keeps each item's addresses for the whole run (~85 MiB of copies).
    lowered: dict[str, str] = {}
    for action in actions:
        target = targets[action.finding_id]
        reached: dict[str, tuple[Contact, set[str]]] = {}  # address → (contact, audiences it is reached as)
        for audience in audience_of(action):
            people, reason = _candidates(audience, target, directory)
            usable = [c for c in people if c.email]
            if not usable:
                reason = "no_email" if people else reason
                unreachable.append(Unreachable(audience, reason, target.unit_id, target.group_id, action.finding_id))
            for c in usable:
                email = lowered.get(c.email) or lowered.setdefault(c.email, c.email.lower())  # type: ignore[arg-type]
                reached.setdefault(email, (c, set()))[1].add(audience)
        if not reached:
            held.append(action)
            continue
        delivered.append(action)
        item = Item(action, target.unit_id, target.group_id)
        recipients_of[(action.finding_id, action.kind)] = list(reached)
        for email, (contact, roles) in reached.items():
            letter = letters.get(email)
            if letter is None:
                letter = letters[email] = Letter(email, contact.name, contact.person_id)
            elif letter.person_id is None and contact.person_id is not None:
                letter.person_id, letter.name = contact.person_id, contact.name
            letter.items.append(item)
            letter.roles |= roles
            if roles & {GROUP, CLOSER} and target.group_id is not None:
                letter.group_ids.add(target.group_id)
    for letter in letters.values():
        letter.items.sort(key=lambda i: urgency_key(i, directory.unit_rank))
    return Routing(letters, delivered, held, unreachable, recipients_of)


def without(actions: Iterable[PlannedAction], routing: Routing, already_mailed: Collection[str]
            ) -> tuple[list[PlannedAction], list[PlannedAction]]:
    """Split actions into (kept, deferred): deferred ones reach someone who already has today's letter.

    The outbox allows one daily letter per address per day, so an action that would have to go into a
    letter already queued waits: it is not escalated today and the planner offers it again tomorrow.
    """
    kept: list[PlannedAction] = []
    deferred: list[PlannedAction] = []
    mailed = {m.lower() for m in already_mailed}
    for a in actions:
        if mailed and any(e in mailed for e in routing.recipients_of.get((a.finding_id, a.kind), ())):
            deferred.append(a)
        else:
            kept.append(a)
    return kept, deferred


@dataclass(frozen=True)
class Section:
    """A block of a letter: one level (for a unit's own letter) or one unit (for overseers)."""

    key: str  # a kind, or a unit id as text
    unit_id: int | None
    items: tuple[Item, ...]


def sections(letter: Letter, unit_rank: Mapping[int, int]) -> list[Section]:
    """Unit letters read level by level; overseer letters read unit by unit, units in display order."""
    if letter.overseer:
        by_unit: dict[int, list[Item]] = defaultdict(list)
        for i in letter.items:
            by_unit[i.unit_id].append(i)
        # Units with the most urgent items first, then by display order.
        order = sorted(by_unit, key=lambda u: (min(urgency_key(i, unit_rank) for i in by_unit[u])[:1],
                                               unit_rank.get(u, u)))
        return [Section(str(u), u, tuple(by_unit[u])) for u in order]
    by_kind: dict[str, list[Item]] = defaultdict(list)
    for i in letter.items:
        by_kind[i.action.kind].append(i)
    return [Section(k, None, tuple(by_kind[k])) for k in KINDS_BY_URGENCY if k in by_kind]


def kind_counts(items: Iterable[Item]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS_BY_URGENCY, 0)
    for i in items:
        counts[i.action.kind] += 1
    return counts


def due_span(items: Iterable[Item], due_of: Mapping[int, date | None]) -> tuple[date | None, date | None]:
    """Earliest and latest due date among the items (None when none has one)."""
    dues = [d for i in items if (d := due_of.get(i.action.finding_id)) is not None]
    return (min(dues), max(dues)) if dues else (None, None)
