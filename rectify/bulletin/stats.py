"""The figures of a bulletin's 整改落实情况 section, computed from plain rows. Pure: no I/O, no clock.

Counting rules (documented so the office can check the numbers by hand):
- a finding counts once it was inspected on or before `as_of`; cancelled findings (已撤销) never count;
- closed (已销号) means closed on or before `as_of`; a finding closed later counts as not yet closed;
- overdue is derived with `rectify.core.ladder.is_overdue` on `as_of`, never stored, twice: against the
  current deadline (逾期（按现时限）) and against the original one, before any extension (逾期（按原时限）);
- on time (按期销号) means closed by `as_of` and done (the verified report's day, else the closing day) on or
  before the deadline, again against both deadlines; a finding without a deadline (长期坚持) is on time;
- extended (经批准延期) counts findings with an approved extension (`extensions_used`);
- 反弹 counts findings reopened after 回头看 on or before `as_of`; "this period" those reopened from
  `period_start` (the day after the last bulletin) to `as_of`;
- 通报 names the units owning unfinished findings (open or sent back) whose ladder level reached the
  first step of kind "notify".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date

from rectify.core.ladder import Step, is_overdue
from rectify.core.lateness import done_on_time, original_of
from rectify.core.lifecycle import ACTIVE

KIND_ORDER = {"county": 0, "township": 1}


@dataclass(frozen=True, slots=True)
class UnitRow:
    id: int
    name: str
    kind: str = "county"
    sort_order: int = 0


@dataclass(frozen=True, slots=True)
class FindingRow:
    id: int
    unit_id: int
    state: str
    inspected_on: date
    due_date: date | None = None
    level: int = 0
    group_id: int | None = None
    closed_on: date | None = None  # the closing day in the county's time zone
    problem: str = ""
    measures: str = ""
    new_closure: bool = False  # closed in this period and not yet carried by any bulletin
    original_due: date | None = None  # before any extension; None: the same as due_date
    extensions: int = 0  # approved extensions
    done_on: date | None = None  # the day the verified report was made (county's zone)
    reopened_on: tuple[date, ...] = ()  # days it was reopened after 回头看 (反弹)


@dataclass(frozen=True, slots=True)
class UnitLine:
    unit: str
    found: int
    closed: int
    overdue: int
    overdue_original: int = 0
    rebound: int = 0

    @property
    def open(self) -> int:
        return self.found - self.closed


@dataclass(frozen=True, slots=True)
class ClosedItem:
    unit: str
    problem: str
    measures: str
    closed_on: date
    due: date | None = None
    original_due: date | None = None


@dataclass(frozen=True, slots=True)
class UnitCount:
    unit: str
    count: int


@dataclass
class BulletinStats:
    as_of: date
    groups: int = 0  # supervision groups that found something
    found: int = 0
    closed: int = 0
    new_closed: int = 0
    overdue: int = 0
    overdue_units: int = 0
    extended: int = 0  # findings with an approved extension
    overdue_original: int = 0  # unfinished and past the original deadline
    on_time: int = 0  # closed and done by the current deadline
    on_time_original: int = 0  # closed and done by the original deadline
    rebound: int = 0  # reopened after 回头看 (反弹), up to as_of
    rebound_new: int = 0  # of those, reopened in this period
    units: list[UnitLine] = field(default_factory=list)
    items: list[ClosedItem] = field(default_factory=list)  # empty when summarised
    items_by_unit: list[UnitCount] = field(default_factory=list)  # per-unit counts of this period's closures
    summarised: bool = False
    notified: list[UnitCount] = field(default_factory=list)

    @property
    def total(self) -> UnitLine:
        return UnitLine("", self.found, self.closed, self.overdue, self.overdue_original, self.rebound)

    @property
    def deadlines_differ(self) -> bool:
        """Whether counting against the original deadlines changes anything worth a sentence."""
        return bool(self.extended or self.overdue_original != self.overdue or self.on_time_original != self.on_time)

    def summary(self) -> dict[str, object]:
        """What the Bulletin row keeps: the headline figures and the per-unit table (no problem texts)."""
        return {
            "as_of": self.as_of.isoformat(), "groups": self.groups, "found": self.found, "closed": self.closed,
            "new_closed": self.new_closed, "overdue": self.overdue, "overdue_units": self.overdue_units,
            "extended": self.extended, "overdue_original": self.overdue_original, "on_time": self.on_time,
            "on_time_original": self.on_time_original, "rebound": self.rebound, "rebound_new": self.rebound_new,
            "units": [asdict(u) for u in self.units],
            "notified": [asdict(n) for n in self.notified],
        }


def unit_sort_key(unit_order: Sequence[str] = ()):
    """Units as the office lists them: an explicit order first, else county departments then townships,
    each by sort_order then name. Units missing from an explicit order follow in the default order."""
    position = {name: i for i, name in enumerate(unit_order)}
    tail = len(position)

    def key(u: UnitRow) -> tuple[int, int, int, str]:
        return (position.get(u.name, tail), KIND_ORDER.get(u.kind, len(KIND_ORDER)), u.sort_order, u.name)

    return key


def notify_level(ladder: Sequence[Step]) -> int | None:
    """The level a finding has when the 通报 step fired for it (1-based), or None without such a step."""
    for i, step in enumerate(ladder, start=1):
        if step.kind == "notify":
            return i
    return None


def state_on(f: FindingRow, as_of: date) -> str:
    """The state to count on `as_of`: a closure after that day does not count yet."""
    if f.state == "closed" and (f.closed_on is None or f.closed_on > as_of):
        return "open"
    return f.state


def compute(units: Iterable[UnitRow], findings: Iterable[FindingRow], *, as_of: date, ladder: Sequence[Step],
            item_list_limit: int = 200, unit_order: Sequence[str] = (),
            period_start: date | None = None) -> BulletinStats:
    by_id = {u.id: u for u in units}
    found: Counter[int] = Counter()
    closed: Counter[int] = Counter()
    overdue: Counter[int] = Counter()
    overdue_original: Counter[int] = Counter()
    rebound: Counter[int] = Counter()
    notified: Counter[int] = Counter()
    figures: Counter[str] = Counter()
    groups: set[int] = set()
    fresh: dict[int, list[FindingRow]] = defaultdict(list)
    notify_at = notify_level(ladder)

    for f in findings:
        if f.state == "cancelled" or f.inspected_on > as_of:
            continue
        if f.unit_id not in by_id:
            raise ValueError(f"finding {f.id} names unit {f.unit_id}, which is not among the units given")
        state = state_on(f, as_of)
        original = original_of(f.due_date, f.original_due)
        found[f.unit_id] += 1
        figures["extended"] += f.extensions > 0
        if f.group_id is not None:
            groups.add(f.group_id)
        if state == "closed":
            closed[f.unit_id] += 1
            done = f.done_on or f.closed_on
            figures["on_time"] += done_on_time(done, f.due_date)
            figures["on_time_original"] += done_on_time(done, original)
            if f.new_closure:
                fresh[f.unit_id].append(f)
        else:
            overdue[f.unit_id] += is_overdue(state, f.due_date, as_of)
            overdue_original[f.unit_id] += is_overdue(state, original, as_of)
        reopened = [d for d in f.reopened_on if d <= as_of]
        if reopened:
            rebound[f.unit_id] += 1
            figures["rebound_new"] += period_start is None or max(reopened) >= period_start
        if notify_at is not None and state in ACTIVE and f.level >= notify_at:
            notified[f.unit_id] += 1

    ordered = sorted((by_id[i] for i in found), key=unit_sort_key(unit_order))
    stats = BulletinStats(
        as_of=as_of, groups=len(groups), found=sum(found.values()), closed=sum(closed.values()),
        new_closed=sum(len(v) for v in fresh.values()), overdue=sum(overdue.values()),
        overdue_units=sum(1 for v in overdue.values() if v),
        overdue_original=sum(overdue_original.values()), rebound=sum(rebound.values()), **figures,
        units=[UnitLine(u.name, found[u.id], closed[u.id], overdue[u.id], overdue_original[u.id], rebound[u.id])
               for u in ordered],
        notified=[UnitCount(u.name, notified[u.id]) for u in ordered if notified[u.id]],
    )
    with_fresh = [u for u in ordered if fresh.get(u.id)]
    stats.items_by_unit = [UnitCount(u.name, len(fresh[u.id])) for u in with_fresh]
    if stats.new_closed > item_list_limit:
        stats.summarised = True
    else:
        stats.items = [
            ClosedItem(u.name, f.problem, f.measures, f.closed_on, f.due_date,  # type: ignore[arg-type]
                       original_of(f.due_date, f.original_due))
            for u in with_fresh
            for f in sorted(fresh[u.id], key=lambda f: (f.closed_on, f.id))
        ]
    return stats
