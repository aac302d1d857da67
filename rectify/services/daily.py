"""The daily run as plain functions: plan → notices → render → commit → deliver. The Prefect flow wraps
each step in a task (flows/daily.py); the CLI and the bench call `run_daily` with the same steps.

Crash safety rests on one transaction: the day's escalations (levels, events, review dates) and the
day's outbox rows commit together, or not at all. Delivery comes after, from the outbox, so a crash
at any point either leaves nothing behind (re-run does it all) or leaves committed, pending mail
(re-run finds nothing new to escalate and delivers what is pending). 督办通知 are the one exception: they
are numbered and recorded in their own short transaction before the letters that carry them are rendered,
and are idempotent per unit and day, so a re-run on the same day gets the same notice back (docs/daily-run.md).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select, update

from models import Event, Finding, OutboxMessage, Round
from rectify.core.colours import worst
from rectify.core.ladder import FindingView, PlannedAction, plan
from rectify.core.lifecycle import ACTIVE
from rectify.core.notices import NoticeError, notice_batches
from rectify.core.practice import recheck_due_on, rechecks_due
from rectify.core.routing import (
    COMMAND_OFFICE,
    KINDS_BY_URGENCY,
    UNIT_CONTACT,
    UNIT_LEADER,
    Directory,
    Letter,
    Routing,
    Target,
    kind_counts,
    route,
    sections,
    without,
)
from rectify.core.workcal import CalendarError
from rectify.links import login_links
from rectify.mail import outbox
from rectify.mail.compose import Attachment, build_message, build_message_bytes, to_bytes
from rectify.mail.deliver import OutboxReport, flush_outbox
from rectify.runtime import Runtime
from rectify.services.colours import palette, refused_extension_ids
from rectify.services.notices import DOCX_SUBTYPE, issue_notices, notice_number
from rectify.services.routing import load_directory
from rectify.templating import labels, render, render_subject

KIND = "daily"  # outbox kind: one daily letter per address per day
ACTIVE_STATES = sorted(s.value for s in ACTIVE)
SCAN_BATCH = 20_000  # rows per fetch of the lean scan
LIST_LIMIT = 300  # items listed one by one in a letter; the rest are counted per unit
UNIT_TABLE_LIMIT = 100  # rows of an overseer's per-unit table; further units are summed in one row
REPORT_LIMIT = 200  # unreachable rows named in a run's summary; the rest are counted
RENDER_CHUNK = 2_000  # letters per render task
ESCALATE, REVIEW, HANDOVER = "escalate", "review_request", "handover_notice"  # event kinds
RECHECK, SIGNOFF = "recheck_request", "signoff_request"  # event kinds
EVENT_OF_KIND = {"review": REVIEW, "handover": HANDOVER, "recheck": RECHECK, "signoff": SIGNOFF}
NOT_LADDER = frozenset(EVENT_OF_KIND)  # item kinds that are not escalations
HANDOVER_STATES = sorted({*ACTIVE_STATES, "reported"})  # reassigned and not finished: tell the new unit
# 回头看 that fell due more than this many working days ago are not mailed any more (the first run after
# deploying, or after an outage, would flood the closers); the weekly digest counts them as 到期未回头看.
RECHECK_WINDOW = 10


class RunConflict(Exception):
    """Another run changed the same findings or queued the same letters first; plan again."""


@dataclass(frozen=True, slots=True)
class Detail:
    code: str
    problem: str
    opinion: str
    due_date: date | None
    state: str = "open"
    closed_on: date | None = None  # local day of 销号 (回头看 items)
    reported_at: datetime | None = None  # the report a sign-off request is about


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

    @property
    def letters(self) -> list[Letter]:
        return list(self.routing.letters.values()) if self.routing else []


@dataclass
class DailyReport:
    """What one run did; JSON-able (`as_dict`) for the flow result and the artifact."""

    day: str
    working_day: bool
    dry_run: bool = False
    scanned: int = 0
    escalations: dict[str, int] = field(default_factory=dict)  # by kind
    reviews: int = 0
    handovers: int = 0  # reassigned findings whose new unit was told
    rechecks: int = 0  # 回头看 items sent to the closers
    signoffs: int = 0  # reports sent to the unit head for sign-off (two-level closure)
    notices: list[str] = field(default_factory=list)  # 督办通知 numbers issued (or, on a dry run, units due one)
    deferred: int = 0
    held: int = 0
    messages: int = 0
    messages_by_level: dict[str, int] = field(default_factory=dict)  # by the letter's most urgent kind
    recipients: int = 0
    items: int = 0
    unreachable: list[dict[str, Any]] = field(default_factory=list)  # the first REPORT_LIMIT of them
    unreachable_total: int = 0
    sent: int = 0
    pending: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    delivered: bool = False
    letters: list[dict[str, Any]] = field(default_factory=list)  # dry run: who would get what
    attempts: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- plan


def _scan(rt: Runtime, today: date) -> tuple[int, list[PlannedAction], dict[int, Target], dict]:
    """One lean streaming query over the active findings; the planner runs batch by batch."""
    review_every = rt.settings.deadlines.long_term_review_working_days
    q = (select(Finding.id, Finding.state, Finding.due_date, Finding.level, Finding.unit_id, Finding.group_id,
                Finding.last_review_on, Finding.inspected_on)
         .where(Finding.state.in_(ACTIVE_STATES)))
    scanned = 0
    actions: list[PlannedAction] = []
    targets: dict[int, Target] = {}
    before: dict[int, tuple[int, date | None]] = {}
    with rt.engine.connect() as conn:
        result = conn.execution_options(yield_per=SCAN_BATCH).execute(q)
        for rows in result.partitions():
            scanned += len(rows)
            views = [FindingView(r[0], r[1], r[2], r[3], r[6] or r[7]) for r in rows]
            planned = plan(views, today, rt.calendar, rt.ladder, review_every)
            if not planned:
                continue
            by_id = {r[0]: r for r in rows}
            for a in planned:
                r = by_id[a.finding_id]
                targets[a.finding_id] = Target(r[4], r[5])
                before[a.finding_id] = (r[3], r[6])
            actions.extend(planned)
    return scanned, actions, targets, before


def _handovers(rt: Runtime, today: date) -> tuple[list[PlannedAction], dict[int, Target], dict]:
    """Reassigned findings whose new unit has not been told yet (`handover_pending`, set by the form)."""
    q = (select(Finding.id, Finding.due_date, Finding.level, Finding.unit_id, Finding.group_id,
                Finding.last_review_on)
         .where(Finding.handover_pending.is_(True), Finding.state.in_(HANDOVER_STATES)))
    actions: list[PlannedAction] = []
    targets: dict[int, Target] = {}
    before: dict[int, tuple[int, date | None]] = {}
    with rt.engine.connect() as conn:
        for r in conn.execute(q):
            days = rt.calendar.working_days_between(r[1], today) if r[1] is not None else None
            actions.append(PlannedAction(r[0], "handover", r[2], None, days))
            targets[r[0]] = Target(r[3], r[4])
            before[r[0]] = (r[2], r[5])
    return actions, targets, before


def _rechecks(rt: Runtime, today: date) -> tuple[list[PlannedAction], dict[int, Target], dict]:
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


def _signoffs(rt: Runtime, today: date) -> tuple[list[PlannedAction], dict[int, Target], dict]:
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
                             .where(OutboxMessage.day == today, OutboxMessage.kind == KIND)))


def _details(rt: Runtime, ids: Sequence[int]) -> dict[int, Detail]:
    out: dict[int, Detail] = {}
    q = select(Finding.id, Finding.code, Finding.problem, Finding.opinion, Finding.due_date, Finding.state,
               Finding.closed_at, Finding.reported_at)
    with rt.engine.connect() as conn:
        for i in range(0, len(ids), 5000):
            for r in conn.execute(q.where(Finding.id.in_(ids[i:i + 5000]))):
                closed_on = r[6].astimezone(rt.tz).date() if r[6] is not None else None
                out[r[0]] = Detail(r[1], r[2], r[3], r[4], r[5], closed_on, r[7])
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
    return {fid: p.finding(state=details[fid].state, due=details[fid].due_date, level=level[fid],
                           extension_refused=fid in refused) for fid in ids}


def plan_day(rt: Runtime, today: date, now: datetime) -> DayPlan:
    """Load, plan and route today's actions. Reads only; nothing is written."""
    if not rt.calendar.is_working_day(today):
        return DayPlan(today, now, working_day=False)
    scanned, actions, targets, before = _scan(rt, today)
    for extra, extra_targets, extra_before in (_handovers(rt, today), _rechecks(rt, today), _signoffs(rt, today)):
        actions += extra
        for fid, t in extra_targets.items():
            targets.setdefault(fid, t)
        for fid, seen in extra_before.items():
            before.setdefault(fid, seen)
    closers = {t.closer_id for t in targets.values() if t.closer_id is not None}
    with rt.sessions() as s:
        directory = load_directory(s, rt.settings.command_office, closers)
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
                   notice_units=notice_batches(crossed, rt.ladder))


# ---------------------------------------------------------------- 督办通知


def issue_day_notices(rt: Runtime, day: DayPlan) -> dict[int, NoticeRef]:
    """Number, render and record today's 督办通知 (one per unit that has findings reaching 督办), in their own
    short transaction. Idempotent per unit and day: a re-run gets the notices already issued back."""
    if not day.notice_units:
        return {}
    with rt.sessions() as s, s.begin():
        notices = issue_notices(s, rt, day.today, day.now, day.notice_units)
        return {n.unit_id: NoticeRef(n.unit_id, notice_number(n), n.file, n.reply_by) for n in notices}


def _notice_files(refs: Sequence[NoticeRef], cache: dict[str, Attachment]) -> tuple[Attachment, ...]:
    out = []
    for ref in refs:
        att = cache.get(ref.file)
        if att is None:
            path = Path(ref.file)
            try:
                att = cache[ref.file] = Attachment(path.name, path.read_bytes(), subtype=DOCX_SUBTYPE)
            except OSError as exc:
                raise NoticeError(f"督办通知{ref.number}: cannot read {path}: {exc.strerror}") from None
        out.append(att)
    return tuple(out)


def _letter_notices(letter: Letter, day: DayPlan) -> list[NoticeRef]:
    """Today's notices for the units this address is a contact or leader of (not merely overseeing)."""
    if not day.notices or not letter.roles & {UNIT_CONTACT, UNIT_LEADER}:
        return []
    d = day.directory
    assert d is not None
    out = []
    for u in letter.unit_ids:
        ref = day.notices.get(u)
        if ref is not None and any(c.email == letter.email for c in (*d.contacts.get(u, ()), *d.leaders.get(u, ()))):
            out.append(ref)
    return out


# ---------------------------------------------------------------- render


def _days_text(days: int | None) -> dict[str, Any]:
    return {"days": days, "left": -days if days is not None and days < 0 else 0,
            "late": days if days is not None and days > 0 else 0}


def _scope(letter: Letter, d: Directory) -> str:
    """What the subject and greeting name: the unit when there is one, else the supervision group(s).

    Empty for the command office across several units (the templates say 全县).
    """
    units = letter.unit_ids
    if len(units) == 1:
        return d.units.get(units[0], "")
    if letter.group_ids and COMMAND_OFFICE not in letter.roles:
        return "、".join(d.groups[g] for g in sorted(letter.group_ids) if g in d.groups)
    return ""


def _blocks(letter: Letter, day: DayPlan, link: Callable[[str], str]) -> tuple[list[dict[str, Any]], int]:
    """The letter's sections with their rows, at most LIST_LIMIT rows in all; returns (blocks, rows listed)."""
    d = day.directory
    assert d is not None
    listed = 0
    blocks = []
    for sec in sections(letter, d.unit_rank):
        rows = []
        for item in sec.items[:max(LIST_LIMIT - listed, 0)]:
            a, det = item.action, day.details[item.action.finding_id]
            rows.append({"kind": a.kind, "code": det.code, "problem": det.problem, "opinion": det.opinion,
                         "due": det.due_date, "unit": d.units.get(item.unit_id, ""), "closed_on": det.closed_on,
                         "colour": day.colours.get(a.finding_id), "url": link(f"/findings/{a.finding_id}"),
                         **_days_text(a.days)})
        listed += len(rows)
        blocks.append({"kind": None if sec.unit_id is not None else sec.key,
                       "unit": d.units.get(sec.unit_id, "") if sec.unit_id is not None else None,
                       "count": len(sec.items), "items": rows})
    return blocks, listed


def _per_unit(letter: Letter, d: Directory) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Overseers' count table: items per unit and level, units in display order.

    Past UNIT_TABLE_LIMIT units, the units with the most urgent items stay and the rest become one
    summed row (returned second), so a county-wide catch-up cannot outgrow a mail server's size limit.
    """
    if not letter.overseer:
        return [], None
    by_unit: dict[int, Counter[str]] = defaultdict(Counter)
    for i in letter.items:
        by_unit[i.unit_id][i.action.kind] += 1
    units = list(by_unit)
    rest: dict[str, Any] | None = None
    if len(units) > UNIT_TABLE_LIMIT:
        units.sort(key=lambda u: tuple(-by_unit[u][k] for k in KINDS_BY_URGENCY))
        others, units = units[UNIT_TABLE_LIMIT:], units[:UNIT_TABLE_LIMIT]
        summed: Counter[str] = sum((by_unit[u] for u in others), Counter())
        rest = {"units": len(others), "counts": summed, "total": sum(summed.values())}
    rows = [{"unit": d.units.get(u, ""), "counts": by_unit[u], "total": sum(by_unit[u].values())}
            for u in sorted(units, key=lambda u: d.unit_rank.get(u, u))]
    return rows, rest


def render_letters(rt: Runtime, day: DayPlan, letters: Sequence[Letter]) -> list[outbox.Queued]:
    """The complete MIME message of each letter, ready for the outbox. Pure rendering, no writes."""
    settings = rt.settings
    d = day.directory
    assert d is not None
    max_age = timedelta(days=settings.web.link_max_age_days)
    portal = settings.public_url.rstrip("/")
    audience_names = labels()["audience"]
    files: dict[str, Attachment] = {}
    out: list[outbox.Queued] = []
    for letter in letters:
        link: Callable[[str], str]
        if letter.person_id is not None:  # signed for this person: opening it signs them in
            link = login_links(portal, settings.secret, letter.person_id, now=day.now, max_age=max_age)
        else:  # a command-office address without an account: plain links, the form asks to sign in
            link = lambda path: portal + path  # noqa: E731
        blocks, listed = _blocks(letter, day, link)
        per_unit, other_units = _per_unit(letter, d)
        counts = kind_counts(letter.items)
        notices = _letter_notices(letter, day)
        ctx = {
            "today": day.today, "who": letter.name, "roles": sorted(letter.roles), "overseer": letter.overseer,
            "top": letter.top_kind, "total": len(letter.items), "listed": listed,
            "omitted": len(letter.items) - listed, "counts": counts, "units": len(letter.unit_ids),
            "scope": _scope(letter, d), "overdue": sum(1 for i in letter.items if (i.action.days or 0) > 0),
            "remind_dues": sorted({due for i in letter.items if i.action.kind == "remind"
                                   and (due := day.details[i.action.finding_id].due_date)}),
            "blocks": blocks, "per_unit": per_unit, "other_units": other_units,
            "kinds": [k for k in KINDS_BY_URGENCY if counts[k]],
            "colour": worst(day.colours.get(i.action.finding_id) for i in letter.items),
            "notices": [{"number": n.number, "reply_by": n.reply_by, "unit": d.units.get(n.unit_id, ""),
                         "file": Path(n.file).name} for n in notices],
            "portal": portal, "personal": letter.person_id is not None,
            "link_days": settings.web.link_max_age_days, "sender": settings.smtp.from_name,
        }
        subject = render_subject("mail/daily.subject.txt", **ctx)
        parts = {"from_addr": settings.smtp.from_addr, "from_name": settings.smtp.from_name, "to": letter.email,
                 "to_name": letter.name or audience_names.get(sorted(letter.roles)[0], ""), "subject": subject,
                 "text": render("mail/daily.txt", **ctx), "html": render("mail/daily.html", **ctx), "now": day.now}
        if notices:  # the few letters with a 督办通知: multipart/mixed through the stdlib
            data = to_bytes(build_message(**parts, attachments=_notice_files(notices, files)))
        else:
            data = build_message_bytes(**parts)
        meta = {"top": letter.top_kind, "counts": {k: v for k, v in counts.items() if v}}
        if ctx["colour"]:
            meta["colour"] = ctx["colour"]
        if notices:
            meta["notices"] = [n.number for n in notices]
        out.append(outbox.Queued(letter.email, KIND, day.today, data, items=len(letter.items), meta=meta,
                                 subject=subject))
    return out


class Spool(Sequence[outbox.Queued]):
    """Rendered letters parked in an anonymous temporary file between render and commit.

    A catch-up day can render a hundred thousand letters; holding their bytes would take gigabytes.
    The spool keeps only the headers in memory and reads each message back when the commit inserts it.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="rectify-daily-")  # noqa: SIM115 - closed by close()
        self._where: list[tuple[int, int]] = []
        self.headers: list[outbox.Queued] = []  # each letter without its bytes: for summaries

    def extend(self, rows: Sequence[outbox.Queued]) -> None:
        self._file.seek(0, os.SEEK_END)
        for q in rows:
            data = bytes(q.message) if isinstance(q.message, bytes | bytearray) else to_bytes(q.message)
            self._where.append((self._file.tell(), len(data)))
            self._file.write(data)
            self.headers.append(replace(q, message=b""))

    def __len__(self) -> int:
        return len(self.headers)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        offset, size = self._where[i]
        self._file.seek(offset)
        return replace(self.headers[i], message=self._file.read(size))

    def close(self) -> None:
        self._file.close()


# ---------------------------------------------------------------- commit


def _active(t):
    return t.c.state.in_(ACTIVE_STATES)


def _chunks(ids: list[int], size: int = 5000):
    return (ids[i:i + size] for i in range(0, len(ids), size))


def _stamp(s, ids, guard, now: datetime, **values) -> int:
    """Compare-and-set over chunks of ids: only rows still matching `guard` change (bumping `version`),
    so a row another run already changed is not changed again. Returns rows changed."""
    t = Finding.__table__
    changed = 0
    for chunk in _chunks(sorted(ids)):
        changed += s.execute(update(t).where(t.c.id.in_(chunk), guard)
                             .values(version=t.c.version + 1, updated_at=now, **values)).rowcount
    return changed


def _apply_levels(s, actions: Sequence[PlannedAction], before: dict, now: datetime) -> int:
    """Raise levels with a compare-and-set on the level the plan saw.

    One UPDATE per (old level, new level) pair and chunk of ids: a handful of statements a day.
    """
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for a in actions:
        groups[(before[a.finding_id][0], a.level)].append(a.finding_id)
    t = Finding.__table__
    return sum(_stamp(s, ids, (t.c.level == old) & _active(t), now, level=new)
               for (old, new), ids in sorted(groups.items()))


def _apply_reviews(s, actions: Sequence[PlannedAction], today: date, now: datetime) -> int:
    """Stamp last_review_on = today; a row another run already stamped today does not change."""
    t = Finding.__table__
    return _stamp(s, (a.finding_id for a in actions),
                  _active(t) & (t.c.last_review_on.is_(None) | (t.c.last_review_on < today)), now,
                  last_review_on=today)


def _apply_handovers(s, actions: Sequence[PlannedAction], now: datetime) -> int:
    """Clear `handover_pending` once the new unit's letter is queued."""
    t = Finding.__table__
    return _stamp(s, (a.finding_id for a in actions), t.c.handover_pending.is_(True), now, handover_pending=False)


def _apply_rechecks(s, actions: Sequence[PlannedAction], today: date, now: datetime) -> int:
    """Stamp recheck_notified_on = today on closed, unanswered findings."""
    t = Finding.__table__
    guard = (t.c.state == "closed") & t.c.rechecked_at.is_(None) & t.c.recheck_notified_on.is_(None)
    return _stamp(s, (a.finding_id for a in actions), guard, now, recheck_notified_on=today)


def _asked_for_signoff(s, actions: Sequence[PlannedAction]) -> int:
    """How many of these reports got a sign-off request (from another run) since they were made."""
    asked: set[int] = set()
    q = (select(Event.finding_id).join(Finding, Finding.id == Event.finding_id)
         .where(Event.kind == SIGNOFF, or_(Finding.reported_at.is_(None), Event.at >= Finding.reported_at)))
    for chunk in _chunks(sorted(a.finding_id for a in actions)):
        asked.update(s.scalars(q.where(Event.finding_id.in_(chunk))))
    return len(asked)


def _event_kind(a: PlannedAction) -> str:
    return ESCALATE if a.step is not None else EVENT_OF_KIND[a.kind]


def _event_data(a: PlannedAction, day: DayPlan) -> dict[str, Any]:
    level, last_review = day.before[a.finding_id]
    to = day.routing.recipients_of.get((a.finding_id, a.kind), []) if day.routing else []
    if a.kind == "handover":
        return {"kind": "handover", "level": level, "days": a.days, "to": to}
    if a.kind == "recheck":
        closed_on = day.details[a.finding_id].closed_on
        return {"kind": "recheck", "closed_on": closed_on.isoformat() if closed_on else None, "to": to}
    if a.kind == "signoff":
        reported_at = day.details[a.finding_id].reported_at
        return {"kind": "signoff", "reported_at": reported_at.isoformat() if reported_at else None, "to": to}
    if a.step is None:
        return {"kind": "review", "last_review_on": last_review.isoformat() if last_review else None, "to": to}
    return {"step": a.step.key, "kind": a.kind, "level": a.level, "from_level": level, "days": a.days, "to": to}


def commit_day(rt: Runtime, day: DayPlan, queued: Sequence[outbox.Queued]) -> int:
    """Escalations, review and 回头看 stamps, handovers, their events and the day's letters: one transaction.

    Raises RunConflict (and rolls everything back) when another run got there first.
    """
    assert day.routing is not None
    actions = day.routing.delivered
    escalations = [a for a in actions if a.step is not None]
    reviews = [a for a in actions if a.kind == "review"]
    handovers = [a for a in actions if a.kind == "handover"]
    rechecks = [a for a in actions if a.kind == "recheck"]
    signoffs = [a for a in actions if a.kind == "signoff"]
    events = [{"finding_id": a.finding_id, "at": day.now, "kind": _event_kind(a), "actor": "system", "ip": "",
               "note": "", "from_state": None, "to_state": None, "data": _event_data(a, day)} for a in actions]
    with rt.sessions() as s, s.begin():
        if _apply_levels(s, escalations, day.before, day.now) != len(escalations):
            raise RunConflict("some findings were escalated by another run")
        if _apply_reviews(s, reviews, day.today, day.now) != len(reviews):
            raise RunConflict("some long-term findings were reviewed by another run")
        if _apply_handovers(s, handovers, day.now) != len(handovers):
            raise RunConflict("some handovers were told by another run")
        if _apply_rechecks(s, rechecks, day.today, day.now) != len(rechecks):
            raise RunConflict("some 回头看 were sent by another run")
        if signoffs and _asked_for_signoff(s, signoffs):
            raise RunConflict("some sign-off requests were sent by another run")
        for i in range(0, len(events), 5000):
            s.execute(insert(Event), events[i:i + 5000])
        new = sum(outbox.enqueue(s, queued[i:i + 500], day.now) for i in range(0, len(queued), 500))
        if new != len(queued):
            raise RunConflict("a letter for today was queued by another run")
    return new


# ---------------------------------------------------------------- deliver


def deliver(rt: Runtime, now: datetime) -> OutboxReport:
    """Send everything pending in the outbox (today's letters and any left over by an outage)."""
    return flush_outbox(rt.sessions, rt.settings, now)


# ---------------------------------------------------------------- the run


@dataclass(frozen=True)
class Steps:
    """The run's steps; the flow passes Prefect-task versions of the same functions."""

    plan: Callable[[Runtime, date, datetime], DayPlan] = plan_day
    render: Callable[[Runtime, DayPlan, Sequence[Letter]], list[outbox.Queued]] = render_letters
    commit: Callable[[Runtime, DayPlan, Sequence[outbox.Queued]], int] = commit_day
    deliver: Callable[[Runtime, datetime], OutboxReport] = deliver
    issue: Callable[[Runtime, DayPlan], dict[int, NoticeRef]] = issue_day_notices  # 督办通知, before render


PLAIN = Steps()


def summarise(day: DayPlan, report: DailyReport, queued: Sequence[outbox.Queued]) -> None:
    report.scanned = day.scanned
    if day.routing is None:
        return
    d = day.directory
    assert d is not None
    delivered = day.routing.delivered
    report.escalations = {k: n for k in KINDS_BY_URGENCY if k not in NOT_LADDER
                          if (n := sum(1 for a in delivered if a.kind == k))}
    kinds = Counter(a.kind for a in delivered)
    report.reviews, report.handovers = kinds["review"], kinds["handover"]
    report.rechecks, report.signoffs = kinds["recheck"], kinds["signoff"]
    report.notices = ([n.number for n in sorted(day.notices.values(), key=lambda n: n.number)] if day.notices
                      else [d.units.get(u, "") for u in day.notice_units] if report.dry_run else [])
    report.deferred = len(day.deferred)
    report.held = len(day.routing.held)
    report.messages = len(queued)
    report.recipients = len({q.recipient for q in queued})
    report.items = sum(q.items for q in queued)
    tops = Counter((q.meta or {}).get("top", "") for q in queued)
    report.messages_by_level = {k: tops[k] for k in KINDS_BY_URGENCY if tops[k]}
    grouped: dict[tuple, set[int]] = defaultdict(set)
    for u in day.routing.unreachable:
        # Name what must be fixed: the unit (its contact/leader, or its missing group) or the group.
        by_group = u.audience in ("group", "closer") and u.reason != "no_group"
        unit = u.unit_id if u.audience in ("unit_contact", "unit_leader") or u.reason == "no_group" else None
        grouped[(u.audience, u.reason, unit, u.group_id if by_group else None)].add(u.finding_id)
    rows = [
        {"audience": aud, "reason": reason, "unit": d.units.get(unit, "") if unit is not None else "",
         "group": d.groups.get(group, "") if group is not None else "", "findings": len(ids)}
        for (aud, reason, unit, group), ids in sorted(
            grouped.items(), key=lambda kv: (kv[0][0], d.unit_rank.get(kv[0][2], 0) if kv[0][2] else 0,
                                             kv[0][3] or 0))
    ]
    report.unreachable_total = len(rows)
    report.unreachable = rows[:REPORT_LIMIT]  # a directory with no leaders at all must not flood the summary


def run_daily(rt: Runtime, today: date, now: datetime, *, send: bool = True, dry_run: bool = False,
              steps: Steps = PLAIN, max_attempts: int = 3) -> DailyReport:
    """One daily run. `send=False` stops after queueing (delivery is left to the next run or the
    `rectify outbox retry` command); `dry_run` plans and renders but writes nothing."""
    report = DailyReport(day=today.isoformat(), working_day=rt.calendar.is_working_day(today), dry_run=dry_run)
    if not report.working_day:
        return report
    for attempt in range(1, max_attempts + 1):
        report.attempts = attempt
        day = steps.plan(rt, today, now)
        if not dry_run:
            day.notices = steps.issue(rt, day)
        letters = day.letters
        queued = Spool()
        try:
            for i in range(0, len(letters), RENDER_CHUNK):
                queued.extend(steps.render(rt, day, letters[i:i + RENDER_CHUNK]))
            summarise(day, report, queued.headers)
            if dry_run:
                report.letters = [{"to": q.recipient, "subject": q.subject, "items": q.items} for q in queued.headers]
                return report
            if not day.routing or not (day.routing.delivered or queued):
                break
            try:
                steps.commit(rt, day, queued)
                break
            except RunConflict:
                if attempt == max_attempts:
                    raise
        finally:
            queued.close()
    if send:
        result = steps.deliver(rt, now)
        report.delivered = True
        report.sent = result.sent
        report.pending = [{"to": r, "error": e} for _, r, e in result.pending]
        report.failed = [{"to": r, "error": e} for _, r, e in result.failed]
    return report
