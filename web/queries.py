"""Read side of the form: the list, one finding, the per-unit status. Every query is scoped by
rectify.services.access.visible, so a person can never list what they may not open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, false, func, select, true
from sqlalchemy.orm import Session, joinedload

from models import Event, Evidence, ExtensionRequest, Finding, ProgressReport, Round, SupervisionGroup, Unit
from rectify.core.ladder import Step
from rectify.core.lifecycle import ACTIVE, State
from rectify.core.palette import Palette
from rectify.core.workcal import CalendarError, WorkCalendar
from rectify.services.access import Viewer, visible
from rectify.services.colours import refused_extension_ids
from web.numbers import parse_int
from web.supervision import colour_of, pending_ids

STATES = tuple(s.value for s in State)
_UNFINISHED = (State.OPEN.value, State.REJECTED.value, State.REPORTED.value)
PAGE_SIZE = 30


@dataclass(frozen=True)
class ListFilter:
    state: str = ""  # "" all, or a State value
    unit_id: int | None = None
    overdue: bool = False
    q: str = ""
    page: int = 1
    pending: bool = False  # an extension request waits for a decision
    signoff: bool = False  # reported in a two-level round, not yet signed off by the unit head
    recheck: bool = False  # 回头看 due, for the person who closed it (admins: all)
    group_id: int | None = None  # the supervision group (the 驾驶舱's by-group figures link here)
    ack: bool = False  # 待签收: waiting for the unit's acknowledgement

    @classmethod
    def parse(cls, params: dict[str, str]) -> ListFilter:
        """Lenient: an odd value in the query string means "no filter", never an error page."""
        state = params.get("state", "")
        unit = params.get("unit", "")
        page = params.get("page", "1")
        return cls(
            state=state if state in STATES else "",
            unit_id=parse_int(unit),
            overdue=params.get("overdue") in ("1", "on", "true"),
            q=params.get("q", "").strip()[:100],
            page=max(1, parse_int(page, maximum=100_000) or 1),
            pending=params.get("pending") in ("1", "on", "true"),
            signoff=params.get("signoff") in ("1", "on", "true"),
            recheck=params.get("recheck") in ("1", "on", "true"),
            group_id=parse_int(params.get("group", "")),
            ack=params.get("ack") in ("1", "on", "true"),
        )

    def query(self, **change: Any) -> dict[str, str]:
        """These filters as query parameters (for pagination links), with `change` applied."""
        out = {"state": self.state, "unit": str(self.unit_id or ""), "overdue": "1" if self.overdue else "",
               "q": self.q, "page": str(self.page), "pending": "1" if self.pending else "",
               "signoff": "1" if self.signoff else "", "recheck": "1" if self.recheck else "",
               "group": str(self.group_id or ""),
               "ack": "1" if self.ack else ""}
        out.update({k: str(v) for k, v in change.items()})
        return {k: v for k, v in out.items() if v and not (k == "page" and v == "1")}


@dataclass(frozen=True)
class Timing:
    """Where a finding stands against its deadline, in working days (None: no deadline or unknown year)."""

    days: int | None  # relative to the due date: -2 two left, 0 due today, 3 three overdue
    overdue: bool
    provisional: bool = False  # the date or its count rests on a provisional calendar year (暂定)


def timing(cal: WorkCalendar, state: str, due: date | None, today: date,
           cache: dict[date, int | None] | None = None) -> Timing:
    if due is None:
        return Timing(None, False)
    cache = {} if cache is None else cache
    if due not in cache:
        try:
            cache[due] = cal.working_days_between(due, today)
        except CalendarError:
            cache[due] = None
    overdue = today > due and state in ACTIVE
    provisional = bool(cal.provisional) and (cal.is_provisional(due) or cal.provisional_between(due, today))
    return Timing(cache[due] if state in ACTIVE else None, overdue, provisional)


def level_kind(level: int, ladder: Sequence[Step]) -> str | None:
    """The ladder step kind a finding's level stands for (remind/urge/supervise/notify)."""
    return ladder[level - 1].kind if 0 < level <= len(ladder) else None


@dataclass(frozen=True)
class Row:
    id: int
    code: str
    unit: str
    problem: str
    state: str
    due_date: date | None
    timing: Timing
    level_kind: str | None
    version: int
    original_due_date: date | None = None
    colour: str | None = None  # 蓝/黄/红 (rectify.core.colours)
    pending: bool = False  # an extension request waits for a decision
    needs_signoff: bool = False  # two-level round: the unit head has not signed the report off
    recheck_due: bool = False  # closed, its 回头看 is due and not done
    awaits_ack: bool = False  # 待签收 (rectify.services.followup.waits_for_ack)


@dataclass
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int
    units: list[tuple[int, str]] = field(default_factory=list)


def _awaiting_signoff() -> ColumnElement[bool]:
    return and_(Finding.state == State.REPORTED, Finding.head_signed_at.is_(None),
                Finding.round_id.in_(select(Round.id).where(Round.two_level_closure)))


def _recheck_due(viewer: Viewer, before: datetime | None) -> ColumnElement[bool]:
    """Closed, not re-checked, closed before the bound; a supervisor's own closures, an admin's all."""
    if before is None or viewer.role not in ("admin", "supervisor"):
        return false()
    mine = true() if viewer.role == "admin" else Finding.closed_by_id == viewer.person_id
    return and_(Finding.state == State.CLOSED, Finding.rechecked_at.is_(None), Finding.closed_at < before, mine)


def _where(viewer: Viewer, flt: ListFilter, today: date, recheck_before: datetime | None = None) -> list[Any]:
    conds: list[Any] = [visible(viewer)]
    if flt.state:
        conds.append(Finding.state == flt.state)
    if flt.unit_id:
        conds.append(Finding.unit_id == flt.unit_id)
    if flt.group_id:
        conds.append(Finding.group_id == flt.group_id)
    if flt.overdue:
        conds.append(and_(Finding.state.in_([s.value for s in ACTIVE]), Finding.due_date < today))
    if flt.q:
        conds.append(Finding.problem.icontains(flt.q, autoescape=True)
                     | Finding.opinion.icontains(flt.q, autoescape=True)
                     | Finding.code.icontains(flt.q, autoescape=True))
    if flt.pending:
        conds.append(and_(Finding.state.in_(_UNFINISHED), Finding.id.in_(
            select(ExtensionRequest.finding_id).where(ExtensionRequest.state == "pending"))))
    if flt.signoff:
        conds.append(_awaiting_signoff())
    if flt.recheck:
        conds.append(_recheck_due(viewer, recheck_before))
    if flt.ack:
        conds.append(_awaiting_ack())
    return conds


def _awaiting_ack() -> ColumnElement[bool]:
    """待签收 as SQL: agrees with rectify.services.followup.waits_for_ack."""
    return and_(Finding.ack_due_on.is_not(None), Finding.acknowledged_at.is_(None), Finding.state.in_(_UNFINISHED))


def list_findings(s: Session, viewer: Viewer, flt: ListFilter, today: date, cal: WorkCalendar,
                  ladder: Sequence[Step], page_size: int = PAGE_SIZE, *, palette: Palette | None = None,
                  recheck_before: datetime | None = None) -> Page:
    """Open first (the unit still owes work), then reported, then finished; within each, the most
    overdue first. With a palette each row carries its colour; `recheck_before` (web.supervision) marks
    and filters due 回头看. Two more queries per page (refused and pending extensions), none per row."""
    conds = _where(viewer, flt, today, recheck_before)
    total = s.scalar(select(func.count()).select_from(Finding).where(*conds)) or 0
    pages = max(1, -(-total // page_size))
    page = min(flt.page, pages)
    rank = case((Finding.state.in_([s.value for s in ACTIVE]), 0), (Finding.state == State.REPORTED, 1), else_=2)
    q = (select(Finding.id, Finding.code, Unit.name, Finding.problem, Finding.state, Finding.due_date,
                Finding.level, Finding.version, Finding.original_due_date, Round.two_level_closure,
                Finding.head_signed_at, Finding.closed_at, Finding.closed_by_id, Finding.rechecked_at,
                Finding.ack_due_on, Finding.acknowledged_at)
         .join(Unit, Unit.id == Finding.unit_id).join(Round, Round.id == Finding.round_id)
         .where(*conds)
         .order_by(rank, Finding.due_date.asc().nulls_last(), Finding.id)
         .limit(page_size).offset((page - 1) * page_size))
    cache: dict[date, int | None] = {}
    found = s.execute(q).all()
    ids = [r.id for r in found]
    refused = refused_extension_ids(s, ids) if palette is not None and ids else set()
    waiting = pending_ids(s, ids)
    rechecker = viewer.role in ("admin", "supervisor")
    rows = [Row(r.id, r.code, r.name, r.problem, r.state, r.due_date, timing(cal, r.state, r.due_date, today, cache),
                level_kind(r.level, ladder), r.version, original_due_date=r.original_due_date,
                colour=colour_of(palette, state=r.state, due=r.due_date, level=r.level, refused=r.id in refused)
                if palette is not None else None,
                pending=r.id in waiting and r.state in _UNFINISHED,
                needs_signoff=bool(r.two_level_closure) and r.state == State.REPORTED and r.head_signed_at is None,
                recheck_due=(rechecker and recheck_before is not None and r.state == State.CLOSED
                             and r.rechecked_at is None and r.closed_at is not None and r.closed_at < recheck_before
                             and (viewer.role == "admin" or r.closed_by_id == viewer.person_id)),
                awaits_ack=r.ack_due_on is not None and r.acknowledged_at is None and r.state in _UNFINISHED)
            for r in found]
    units = [(uid, name) for uid, name in s.execute(
        select(Unit.id, Unit.name).where(Unit.id.in_(select(Finding.unit_id).where(visible(viewer))))
        .order_by(Unit.sort_order, Unit.id))]
    return Page(rows, total, page, pages, units)


def load_finding(s: Session, finding_id: int) -> Finding | None:
    """The finding with its unit, group and round, in one query."""
    return s.scalar(select(Finding).where(Finding.id == finding_id)
                    .options(joinedload(Finding.unit), joinedload(Finding.group), joinedload(Finding.round)))


@dataclass(frozen=True, slots=True)
class Has:
    """Which of the finding's lists hold anything: the page skips the query for an empty one."""

    evidence: bool = True
    events: bool = True
    requests: bool = True  # extension requests
    reports: bool = True  # progress reports (进展反馈)


@dataclass(frozen=True, slots=True)
class Named:
    """A unit, group or round as the finding page names it."""

    id: int
    name: str
    two_level_closure: bool = False  # rounds only


class FindingRow:
    """A finding read as plain columns (no ORM object): its columns as attributes, as on `Finding`, and
    `unit`, `group`, `round` as small records. What the finding page and the 销号 form read; the access
    policy takes it as it takes a Finding (rectify.services.access.Target.of reads the same attributes)."""

    def __init__(self, values: dict[str, Any]) -> None:
        unit, group, rnd = values.pop("unit_name"), values.pop("group_name"), values.pop("round_name")
        two_level = bool(values.pop("two_level_closure"))
        self.__dict__.update(values)
        self.unit = Named(values["unit_id"], unit)
        self.group = Named(values["group_id"], group) if values["group_id"] is not None else None
        self.round = Named(values["round_id"], rnd, two_level)


_FINDINGS = Finding.__table__


def _any(model: Any) -> Any:
    return select(model.id).where(model.finding_id == _FINDINGS.c.id).exists()


# Built once: SQLAlchemy keys its compiled-statement cache on the statement object, so a statement made
# per request is re-analysed per request (~0.3 ms); these are compiled at most once per connection type.
_ROW = (select(*_FINDINGS.c, Unit.name.label("unit_name"), SupervisionGroup.name.label("group_name"),
               Round.name.label("round_name"), Round.two_level_closure)
        .join(Unit, Unit.id == _FINDINGS.c.unit_id).join(Round, Round.id == _FINDINGS.c.round_id)
        .outerjoin(SupervisionGroup, SupervisionGroup.id == _FINDINGS.c.group_id)
        .where(_FINDINGS.c.id == bindparam("fid")))
_PAGE = _ROW.add_columns(_any(Evidence).label("has_evidence"), _any(Event).label("has_events"),
                         _any(ExtensionRequest).label("has_requests"), _any(ProgressReport).label("has_reports"))
_HAS = ("has_evidence", "has_events", "has_requests", "has_reports")


def load_row(conn: Connection, finding_id: int) -> FindingRow | None:
    """The finding with the names of its unit, group and round, as plain columns: one query."""
    row = conn.execute(_ROW, {"fid": finding_id}).first()
    return None if row is None else FindingRow(dict(row._mapping))


def load_page(conn: Connection, finding_id: int) -> tuple[FindingRow, Has] | None:
    """The finding (load_row) and which of its lists are not empty: one query.

    Most findings have no extension request and no progress report, and many no evidence yet; asking
    for empty lists was three of the page's seven queries (bench/form_load.py)."""
    row = conn.execute(_PAGE, {"fid": finding_id}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    has = Has(*(bool(values.pop(flag)) for flag in _HAS))
    return FindingRow(values), has


def evidence_of(s: Session, finding_id: int) -> list[Evidence]:
    """A plain query: half the cost of loading the `Finding.evidence` relationship, on every page view."""
    return list(s.scalars(select(Evidence).where(Evidence.finding_id == finding_id).order_by(Evidence.id)))


def history(s: Session, finding_id: int) -> list[Event]:
    return list(s.scalars(select(Event).where(Event.finding_id == finding_id).order_by(Event.at, Event.id)))


@dataclass(frozen=True)
class UnitStatus:
    unit: str
    counts: dict[str, int]  # by state
    overdue: int
    unit_id: int = 0
    colour: str | None = None  # the unit's 蓝/黄/红 (web.supervision.unit_colours)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def counted(self) -> int:
        """The base for the completion rate: cancelled findings are not owed work."""
        return self.total - self.counts.get(State.CANCELLED, 0)

    @property
    def closed(self) -> int:
        return self.counts.get(State.CLOSED, 0)


def unit_status(s: Session, viewer: Viewer, today: date) -> list[UnitStatus]:
    """Counts by state and overdue, one row per unit that has findings the viewer may see."""
    overdue = func.sum(case((and_(Finding.state.in_([st.value for st in ACTIVE]), Finding.due_date < today), 1),
                            else_=0))
    q = (select(Unit.id, Unit.name, Finding.state, func.count(), overdue)
         .join(Unit, Unit.id == Finding.unit_id).where(visible(viewer))
         .group_by(Unit.id, Unit.name, Unit.sort_order, Finding.state)
         .order_by(Unit.sort_order, Unit.id))
    by_unit: dict[int, tuple[str, dict[str, int], list[int]]] = {}
    for uid, name, state, n, late in s.execute(q):
        entry = by_unit.setdefault(uid, (name, {}, [0]))
        entry[1][state] = n
        entry[2][0] += int(late or 0)
    return [UnitStatus(name, counts, late[0], uid) for uid, (name, counts, late) in by_unit.items()]


def group_name(s: Session, group_id: int | None) -> str:
    if group_id is None:
        return ""
    g = s.get(SupervisionGroup, group_id)
    return g.name if g else ""
