"""Plan the day: one lean scan of the active findings through the pure planner, plus handovers, 回头看 and
sign-off requests, routed into one letter per address. Reads only; nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from models import Event, Finding, OutboxMessage, Round
from rectify.core.ladder import FindingView, PlannedAction, plan
from rectify.core.lifecycle import ACTIVE
from rectify.core.notices import notice_batches
from rectify.core.practice import recheck_due_on, rechecks_due
from rectify.core.provisional import tentative
from rectify.core.routing import (
    Directory,
    Letter,
    Routing,
    Target,
    route,
    without,
)
from rectify.core.workcal import CalendarError
from rectify.runtime import Runtime
from rectify.services.colours import palette, refused_extension_ids
from rectify.services.daily import followup
from rectify.services.routing import load_directory

Event_ = aliased(Event)  # the re-plan event whose notice is looked for
KIND = "daily"  # outbox kind: one daily letter per address per day
ACTIVE_STATES = sorted(s.value for s in ACTIVE)
SCAN_BATCH = 20_000  # rows per fetch of the lean scan
REPORT_LIMIT = 200  # unreachable rows named in a run's summary; the rest are counted
# Letters per render task. Each finished task's messages travel back to the parent pickled (~20 KB a letter
# on a first day) and wait there until the spool takes them: small tasks keep that under ~20 MB at 1M findings.
RENDER_CHUNK = 500
ESCALATE, REVIEW, HANDOVER = "escalate", "review_request", "handover_notice"  # event kinds
RECHECK, SIGNOFF = "recheck_request", "signoff_request"  # event kinds
REPLANNED, REPLAN_NOTICE = "deadline_replanned", "replan_notice"  # event kinds (rectify.services.replan)
EVENT_OF_KIND = {"review": REVIEW, "handover": HANDOVER, "recheck": RECHECK, "signoff": SIGNOFF,
                 "replan": REPLAN_NOTICE,
                 **followup.EVENTS}  # 签收 / 签收超期 / 进展反馈 requests (issue 15)
NOT_LADDER = frozenset(EVENT_OF_KIND)  # item kinds that are not escalations
HANDOVER_STATES = sorted({*ACTIVE_STATES, "reported"})  # reassigned and not finished: tell the new unit
# 回头看 that fell due more than this many working days ago are not mailed any more (the first run after
# deploying, or after an outage, would flood the closers); the weekly digest counts them as 到期未回头看.
RECHECK_WINDOW = 10


class RunConflict(Exception):
    """Another run changed the same findings or queued the same letters first: the commit rolled back.

    `findings` names the rows whose compare-and-set failed (empty when only letters collided), so that the
    run re-plans just those (rectify.services.daily.conflicts) instead of the whole day."""

    def __init__(self, message: str, findings: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.findings = frozenset(findings)

    def __reduce__(self):  # Prefect may carry the exception across a task boundary
        return (RunConflict, (str(self), self.findings))


@dataclass(frozen=True, slots=True)
class Detail:
    code: str
    problem: str
    opinion: str
    due_date: date | None
    state: str = "open"
    closed_on: date | None = None  # local day of 销号 (回头看 items)
    reported_at: datetime | None = None  # the report a sign-off request is about
    inspected_on: date | None = None
    deadline_kind: str = "fixed"


@dataclass(frozen=True, slots=True)
class NoticeRef:
    """A 督办通知 issued today for a unit: what its letters attach and say."""

    unit_id: int
    number: str  # 〔2024〕3号
    file: str
    reply_by: date | None


@dataclass
class DayPlan:
    today: date
    now: datetime
    working_day: bool
    scanned: int = 0
    routing: Routing | None = None
    directory: Directory | None = None
    before: dict[int, tuple[int, date | None]] = field(default_factory=dict)  # id → (level, last review)
    details: dict[int, Detail] = field(default_factory=dict)
    deferred: list[PlannedAction] = field(default_factory=list)
    colours: dict[int, str | None] = field(default_factory=dict)  # finding id → colour after today's run
    notice_units: dict[int, list[int]] = field(default_factory=dict)  # unit id → findings that reached 督办
    notices: dict[int, NoticeRef] = field(default_factory=dict)  # unit id → today's notice (set by `issue`)
    progress_missed: list[followup.Missed] = field(default_factory=list)  # recorded by the commit, not mailed
    due_days: dict[int, dict[str, date | None]] = field(default_factory=dict)  # 签收 / progress due days listed
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # (id, code, reason): could not be computed
    provisional: int = 0  # active deadlines that depend on a provisional calendar year (暂定)
    replans: dict[int, dict[str, str]] = field(default_factory=dict)  # id → re-plan not yet told {from, to, document}
    channel_capped: dict[str, int] = field(default_factory=dict)  # IM/SMS rows left out by a daily cap (commit)
    channel_reach: dict[int, tuple] | None = field(default=None, repr=False, compare=False)  # IM/SMS addresses
    actions: list[PlannedAction] = field(default_factory=list)  # everything planned, before routing (re-plans)
    targets: dict[int, Target] = field(default_factory=dict)  # where each acting finding sits (re-plans)
    # Each listed item's words, rendered once for all the letters listing it (letters._item), per process.
    rendered_items: dict[tuple, dict] = field(default_factory=dict, repr=False, compare=False)

    @property
    def letters(self) -> list[Letter]:
        return list(self.routing.letters.values()) if self.routing else []




@dataclass
class Scan:
    scanned: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (id, reason)
    provisional: int = 0
    # Unfinished findings with a handover, a 签收 or a progress report possibly due (followup.Row), kept
    # from the same pass so that those asks need no query of their own.
    followups: list[followup.Row] = field(default_factory=list)


def only(q, ids: Sequence[int] | None):
    """The query narrowed to these findings (a re-plan after a conflict); all of them when None."""
    return q if ids is None else q.where(Finding.id.in_(ids))


# One pass over the unfinished findings: the ladder's columns, then what handovers and 签收/进展 look at.
SCAN_COLUMNS = (Finding.id, Finding.state, Finding.due_date, Finding.level, Finding.unit_id, Finding.group_id,
                Finding.last_review_on, Finding.inspected_on, Finding.deadline_kind,
                Finding.handover_pending, Finding.ack_due_on, Finding.acknowledged_at,
                Finding.ack_overdue_notified_on, Finding.progress_due_on)
_ACTIVE = frozenset(ACTIVE_STATES)


def _scan(rt: Runtime, today: date, scan: Scan, ids: Sequence[int] | None = None
          ) -> tuple[int, list[PlannedAction], dict[int, Target], dict]:
    """One lean streaming query over the unfinished findings; the planner runs batch by batch on the active
    ones, and the rows that may owe a handover or a 签收/进展 ask are kept for those (`scan.followups`).

    A finding the calendar cannot compute is skipped with its reason (`scan.skipped`), never the whole run.
    """
    review_every = rt.settings.deadlines.long_term_review_working_days
    cal = rt.calendar
    q = only(select(*SCAN_COLUMNS).where(Finding.state.in_(ACTIVE_STATES)
                                         | ((Finding.state == "reported") & followup.relevant_clause())), ids)
    scanned = 0
    actions: list[PlannedAction] = []
    targets: dict[int, Target] = {}
    before: dict[int, tuple[int, date | None]] = {}
    keep = followup.relevant
    with rt.engine.connect() as conn:
        result = conn.execution_options(yield_per=SCAN_BATCH).execute(q)
        for rows in result.partitions():
            scan.followups.extend(followup.Row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], *r[9:])
                                  for r in rows if keep(r[9], r[10], r[11], r[13]))
            rows = [r for r in rows if r[1] in _ACTIVE]
            scanned += len(rows)
            views = [FindingView(r[0], r[1], r[2], r[3], r[6] or r[7]) for r in rows]
            planned = plan(views, today, cal, rt.ladder, review_every, skipped=scan.skipped)
            if cal.provisional:
                scan.provisional += sum(1 for r in rows if r[2] is not None and tentative(cal, r[8], r[7], r[2]))
            if not planned:
                continue
            by_id = {r[0]: r for r in rows}
            for a in planned:
                r = by_id[a.finding_id]
                targets[a.finding_id] = Target(r[4], r[5])
                before[a.finding_id] = (r[3], r[6])
            actions.extend(planned)
    scan.scanned = scanned
    return scanned, actions, targets, before


def _handovers(rt: Runtime, today: date, rows: Sequence[followup.Row]
               ) -> tuple[list[PlannedAction], dict[int, Target], dict]:
    """Reassigned findings whose new unit has not been told yet (`handover_pending`, set by the form)."""
    actions: list[PlannedAction] = []
    targets: dict[int, Target] = {}
    before: dict[int, tuple[int, date | None]] = {}
    for r in rows:
        if not r.handover_pending:
            continue
        try:
            days = rt.calendar.working_days_between(r.due_date, today) if r.due_date is not None else None
        except CalendarError:
            days = None  # the new unit is still told; the lateness is left out
        actions.append(PlannedAction(r.id, "handover", r.level, None, days))
        targets[r.id] = Target(r.unit_id, r.group_id)
        before[r.id] = (r.level, r.last_review_on)
    return actions, targets, before


def _rechecks(rt: Runtime, today: date, ids: Sequence[int] | None = None
              ) -> tuple[list[PlannedAction], dict[int, Target], dict]:
    """Closed findings whose 回头看 fell due within the last RECHECK_WINDOW working days, not yet notified.

    Only closures made on the form (`closed_by_id` set) are re-checked by mail; closures imported from a
    ledger have no closer to ask.
    """
    cal, n = rt.calendar, rt.settings.supervision.recheck_working_days
    try:
        oldest_due = cal.add_working_days(today, -(RECHECK_WINDOW - 1))
        closed_from = cal.add_working_days(oldest_due, -n) - timedelta(days=2)  # slack for the zone
    except CalendarError:  # the calendar does not reach back that far: look at what it knows
        oldest_due, closed_from = date.min, date.min
    since = datetime.combine(closed_from, datetime.min.time(), tzinfo=rt.tz) if closed_from > date.min else None
    q = (select(Finding.id, Finding.state, Finding.closed_at, Finding.recheck_notified_on, Finding.level,
                Finding.unit_id, Finding.group_id, Finding.closed_by_id, Finding.last_review_on)
         .where(Finding.state == "closed", Finding.closed_by_id.is_not(None), Finding.closed_at.is_not(None),
                Finding.rechecked_at.is_(None), Finding.recheck_notified_on.is_(None)))
    if since is not None:
        q = q.where(Finding.closed_at >= since)
    q = only(q, ids)
    rows, items = {}, []
    with rt.engine.connect() as conn:
        for r in conn.execute(q):
            try:
                due_on = recheck_due_on(r.closed_at.astimezone(rt.tz).date(), cal, n)
            except CalendarError:
                continue
            if due_on >= oldest_due:
                rows[r.id] = r
                items.append((r.id, r.state, due_on, r.recheck_notified_on))
    actions, targets, before = [], {}, {}
    for fid in rechecks_due(items, today, cal):
        r = rows[fid]
        actions.append(PlannedAction(fid, "recheck", r.level, None, None))
        targets[fid] = Target(r.unit_id, r.group_id, r.closed_by_id)
        before[fid] = (r.level, r.last_review_on)
    return actions, targets, before


def _replans(rt: Runtime, today: date, ids: Sequence[int] | None = None
             ) -> tuple[list[PlannedAction], dict[int, Target], dict, dict]:
    """Deadlines moved by an imported holiday notice that the unit has not been told about yet."""
    told = (select(Event.id).where(Event.finding_id == Finding.id, Event.kind == REPLAN_NOTICE,
                                   Event.id > Event_.id).exists())
    q = (select(Finding.id, Finding.level, Finding.unit_id, Finding.group_id, Finding.last_review_on,
                Event_.id.label("ev"), Event_.data)
         .join(Event_, Event_.finding_id == Finding.id)
         .where(Event_.kind == REPLANNED, Finding.state.in_(HANDOVER_STATES), ~told)
         .order_by(Event_.id))
    q = only(q, ids)
    actions, targets, before, info = [], {}, {}, {}
    with rt.engine.connect() as conn:
        for r in conn.execute(q):
            data = r.data or {}
            if r.id in info:  # moved twice before anyone was told: one item, from the first to the last date
                info[r.id]["to"] = data.get("to", "")
                info[r.id]["document"] = data.get("document", "")
                continue
            info[r.id] = {"from": data.get("from", ""), "to": data.get("to", ""), "document": data.get("document", "")}
            actions.append(PlannedAction(r.id, "replan", r.level, None, None))
            targets[r.id] = Target(r.unit_id, r.group_id)
            before[r.id] = (r.level, r.last_review_on)
    return actions, targets, before, info


def _signoffs(rt: Runtime, today: date, ids: Sequence[int] | None = None
              ) -> tuple[list[PlannedAction], dict[int, Target], dict]:
    """Reports of two-level rounds the unit head has not signed off and has not been asked about yet.

    "Asked" is a `signoff_request` event since the report: a report sent back and made again asks again.
    """
    asked = (select(Event.id).where(Event.finding_id == Finding.id, Event.kind == SIGNOFF,
                                    or_(Finding.reported_at.is_(None), Event.at >= Finding.reported_at))
             .exists())
    q = (select(Finding.id, Finding.level, Finding.unit_id, Finding.group_id, Finding.last_review_on)
         .join(Round, Round.id == Finding.round_id)
         .where(Round.two_level_closure.is_(True), Finding.state == "reported", Finding.head_signed_at.is_(None),
                ~asked))
    q = only(q, ids)
    actions, targets, before = [], {}, {}
    with rt.engine.connect() as conn:
        for r in conn.execute(q):
            actions.append(PlannedAction(r.id, "signoff", r.level, None, None))
            targets[r.id] = Target(r.unit_id, r.group_id)
            before[r.id] = (r.level, r.last_review_on)
    return actions, targets, before


def already_mailed(rt: Runtime, today: date) -> set[str]:
    with rt.sessions() as s:
        return set(s.scalars(select(OutboxMessage.recipient)
                             .where(OutboxMessage.day == today, OutboxMessage.kind == KIND,
                                    OutboxMessage.channel == "mail")))


def _details(rt: Runtime, ids: Sequence[int]) -> dict[int, Detail]:
    out: dict[int, Detail] = {}
    q = select(Finding.id, Finding.code, Finding.problem, Finding.opinion, Finding.due_date, Finding.state,
               Finding.closed_at, Finding.reported_at, Finding.inspected_on, Finding.deadline_kind)
    with rt.engine.connect() as conn:
        for i in range(0, len(ids), 5000):
            for r in conn.execute(q.where(Finding.id.in_(ids[i:i + 5000]))):
                closed_on = r[6].astimezone(rt.tz).date() if r[6] is not None else None
                out[r[0]] = Detail(r[1], r[2], r[3], r[4], r[5], closed_on, r[7], r[8], r[9])
    return out


def _colours(rt: Runtime, today: date, actions: Sequence[PlannedAction], details: dict[int, Detail]
             ) -> dict[int, str | None]:
    """蓝/黄/红 of each acting finding at the level it reaches today: one query for refusals, then the rule."""
    level: dict[int, int] = {}
    for a in actions:
        level[a.finding_id] = max(level.get(a.finding_id, 0), a.level)
    ids = sorted(fid for fid in level if details[fid].state in ACTIVE_STATES)
    if not ids:
        return {}
    with rt.sessions() as s:
        refused = refused_extension_ids(s, ids)
    p = palette(rt, today)
    out: dict[int, str | None] = {}
    for fid in ids:
        try:
            out[fid] = p.finding(state=details[fid].state, due=details[fid].due_date, level=level[fid],
                                 extension_refused=fid in refused)
        except CalendarError:
            out[fid] = None  # no colour rather than no letter
    return out


def plan_actions(rt: Runtime, today: date, scan: Scan, ids: Sequence[int] | None = None
                 ) -> tuple[list[PlannedAction], dict[int, Target], dict, dict]:
    """Every action due today (of these findings, when `ids` is given), with targets, levels seen and the
    holiday-notice re-plans not yet told. Reads only."""
    _, actions, targets, before = _scan(rt, today, scan, ids)
    replan_actions, replan_targets, replan_before, replans = _replans(rt, today, ids)
    for extra, extra_targets, extra_before in (_handovers(rt, today, scan.followups), _rechecks(rt, today, ids),
                                               _signoffs(rt, today, ids),
                                               (replan_actions, replan_targets, replan_before),
                                               *_followups(rt, today, scan.followups)):
        actions += extra
        for fid, t in extra_targets.items():
            targets.setdefault(fid, t)
        for fid, seen in extra_before.items():
            before.setdefault(fid, seen)
    return actions, targets, before, replans


def plan_day(rt: Runtime, today: date, now: datetime) -> DayPlan:
    """Load, plan and route today's actions. Reads only; nothing is written."""
    if not rt.calendar.is_working_day(today):
        return DayPlan(today, now, working_day=False)
    scan = Scan()
    actions, targets, before, replans = plan_actions(rt, today, scan)
    scanned = scan.scanned
    closers = {t.closer_id for t in targets.values() if t.closer_id is not None}
    with rt.engine.connect() as conn:  # plain rows: the ORM session's row handling costs more than the reading
        directory = load_directory(conn, rt.settings.command_office, closers)
    routing = route(actions, targets, directory)
    mailed = already_mailed(rt, today) if routing.letters else set()
    deferred: list[PlannedAction] = []
    if mailed & set(routing.letters):
        kept, deferred = without(routing.delivered, routing, mailed)
        held, unreachable = routing.held, routing.unreachable
        routing = route(kept, targets, directory)
        routing.held, routing.unreachable = held, unreachable
    ids = sorted({a.finding_id for a in routing.delivered})
    details = _details(rt, ids)
    crossed = [(a.finding_id, targets[a.finding_id].unit_id, before[a.finding_id][0], a.level)
               for a in routing.delivered if a.step is not None]
    return DayPlan(today, now, True, scanned, routing, directory, before, details, deferred,
                   colours=_colours(rt, today, routing.delivered, details),
                   notice_units=notice_batches(crossed, rt.ladder),
                   skipped=_named(rt, scan.skipped), provisional=scan.provisional, replans=replans,
                   progress_missed=followup.missed_progress(rt, today, scan.followups),
                   due_days=followup.due_days(rt, sorted({a.finding_id for a in routing.delivered
                                                          if a.kind in followup.EVENTS})),
                   actions=actions, targets=targets)


def _followups(rt: Runtime, today: date, rows: Sequence[followup.Row]) -> tuple:
    """签收 requests, 签收超期 to the groups, due progress reports (rectify.services.daily.followup)."""
    return (followup.acks(rt, today, rows), followup.ack_overdues(rt, today, rows),
            followup.progress_requests(rt, today, rows))


def _named(rt: Runtime, skipped: Sequence[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """(id, code, reason) for the skipped findings, the first REPORT_LIMIT of them named."""
    if not skipped:
        return []
    ids = [fid for fid, _ in skipped[:REPORT_LIMIT]]
    with rt.engine.connect() as conn:
        codes = dict(conn.execute(select(Finding.id, Finding.code).where(Finding.id.in_(ids))).all())
    return [(fid, codes.get(fid, str(fid)), why) for fid, why in skipped]
