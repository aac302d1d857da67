"""The run itself: plan → notices → render → commit → deliver, retried on a conflict, and its report."""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from rectify import checkpoint
from rectify.channels import alongside
from rectify.channels.enqueue import reach_of, robot_rows
from rectify.channels.errors import scrub
from rectify.channels.render import warm as warm_channel_templates
from rectify.core.routing import (
    KINDS_BY_URGENCY,
    Letter,
)
from rectify.db import refresh_statistics, retrying
from rectify.mail import outbox
from rectify.mail.deliver import OutboxReport, flush_outbox
from rectify.memory import collector_paused, frozen, give_back
from rectify.runtime import Runtime
from rectify.services import runrecord
from rectify.services.calendar import cliff_warning
from rectify.services.daily.alerts import queue_fault_alert
from rectify.services.daily.commit import commit_day
from rectify.services.daily.conflicts import resolve
from rectify.services.daily.letters import Spool, issue_day_notices, render_letters
from rectify.services.daily.letters import warm as warm_letter_templates
from rectify.services.daily.plan import (
    NOT_LADDER,
    RENDER_CHUNK,
    REPORT_LIMIT,
    DayPlan,
    NoticeRef,
    RunConflict,
    plan_day,
)

if TYPE_CHECKING:
    from rectify.channels.dispatch import ChannelReport

log = logging.getLogger(__name__)


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
    acks: int = 0  # findings whose unit was asked for 签收
    ack_overdue: int = 0  # unacknowledged findings past the limit listed to their group
    progress_requests: int = 0  # due 阶段性进展 listed in the units' letters
    progress_missed: int = 0  # due reports not made, recorded once
    replans: int = 0  # units told that an imported holiday notice moved a deadline
    provisional: int = 0  # active deadlines resting on a provisional calendar year (暂定)
    skipped: list[dict[str, str]] = field(default_factory=list)  # findings that could not be computed (code, reason)
    skipped_total: int = 0
    calendar_warning: str = ""  # next year has no official schedule yet (from calendar.warn_from)
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
    mail_error: str = ""  # a problem the same for every letter (SMTP login, TLS): nothing sent, all kept
    in_flight: int = 0  # letters another live sender holds right now (reported, never taken from it)
    waiting: int = 0  # messages still pending in the outbox after delivery
    letters: list[dict[str, Any]] = field(default_factory=list)  # dry run: who would get what
    attempts: int = 1
    conflict: str = ""  # every attempt lost a race with another run (which recorded the day); still delivered
    replanned: int = 0  # findings planned again after another run changed them (rectify.services.daily.conflicts)
    rerendered: int = 0  # letters rendered again after such a race (the others were kept)
    # IM/SMS beside the mail (rectify/channels/): rows queued by channel, left out by a cap, and delivery.
    channels: dict[str, int] = field(default_factory=dict)
    channels_capped: dict[str, int] = field(default_factory=dict)
    channels_sent: dict[str, int] = field(default_factory=dict)
    channels_pending: list[dict[str, str]] = field(default_factory=list)
    channels_failed: list[dict[str, str]] = field(default_factory=list)
    channels_down: dict[str, str] = field(default_factory=dict)  # channel → why it stopped (rows stay pending)
    channels_deferred_until: str | None = None  # quiet hours: IM/SMS wait until then

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

# ---------------------------------------------------------------- deliver


def deliver(rt: Runtime, now: datetime) -> OutboxReport:
    """Send every mail pending in the outbox (today's letters and any left over by an outage)."""
    return flush_outbox(rt.sessions, rt.settings, now)


def dispatch_channels(rt: Runtime, now: datetime) -> ChannelReport:
    """Send the IM/SMS rows (after the mail, and never in its way). Imported here: the HTTP client is
    ~0.25 s of start-up that a run without IM/SMS never needs."""
    from rectify.channels.dispatch import dispatch

    return dispatch(rt, now)


# ---------------------------------------------------------------- the run


_PLAN, _COMMIT, _ISSUE = retrying(plan_day), retrying(commit_day), retrying(issue_day_notices)


@dataclass(frozen=True)
class Steps:
    """The run's steps; the flow passes Prefect-task versions of the same functions."""

    # A lost PostgreSQL connection (a restart) is tried again for a while (rectify.db.retrying): the plan
    # reads, notices are idempotent per unit and day, and a repeated commit meets its own compare-and-set.
    plan: Callable[[Runtime, date, datetime], DayPlan] = _PLAN
    render: Callable[[Runtime, DayPlan, Sequence[Letter]], list[outbox.Queued]] = render_letters
    commit: Callable[[Runtime, DayPlan, Sequence[outbox.Queued]], int] = _COMMIT
    deliver: Callable[[Runtime, datetime], OutboxReport] = deliver  # retries inside (rectify.mail.deliver)
    issue: Callable[[Runtime, DayPlan], dict[int, NoticeRef]] = _ISSUE  # 督办通知, before render
    dispatch: Callable[[Runtime, datetime], ChannelReport] = dispatch_channels  # IM/SMS, beside the mail


PLAIN = Steps()


def summarise(day: DayPlan, report: DailyReport, rows: Sequence[outbox.Queued]) -> None:
    report.scanned = day.scanned
    report.provisional = day.provisional
    report.skipped_total = len(day.skipped)
    report.skipped = [{"code": code, "reason": why} for _, code, why in day.skipped[:REPORT_LIMIT]]
    queued = [q for q in rows if q.channel == outbox.MAIL]  # the letters; IM/SMS rows are counted apart
    report.channels = dict(sorted(Counter(q.channel for q in rows if q.channel != outbox.MAIL).items()))
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
    report.acks, report.ack_overdue, report.progress_requests = kinds["ack"], kinds["ack_overdue"], kinds["progress"]
    report.progress_missed = len(day.progress_missed)
    report.replans = kinds["replan"]
    report.notices = ([n.number for n in sorted(day.notices.values(), key=lambda n: notice_order(n.number))]
                      if day.notices
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


# ---------------------------------------------------------------- render, on every core

_FORKED: tuple[Runtime, DayPlan, int] | None = None  # what forked render workers inherit (no pickling of the day)


def _render_chunk(i: int) -> list[outbox.Queued]:
    assert _FORKED is not None
    rt, day, chunk = _FORKED
    return render_letters(rt, day, day.letters[i * chunk:(i + 1) * chunk])


# Letters: fewer are rendered in this process. Forking and copying the bytes back cost ~0.2 s of CPU, paid
# back in wall time from a few hundred letters on (an ordinary day's 1,700 letters: ~0.6 s sooner on 2 cores).
FORK_ABOVE = 600
BALANCED_CHUNK_MIN = 50  # letters: below this the pool's per-chunk hand-over starts to show
FLOW_RENDER_TASK = 2_000  # letters per render task in the Prefect flow (a task costs the flow a few milliseconds)


def render_processes(letters: int, chunk: int = RENDER_CHUNK) -> int:
    """Worker processes for rendering: the cores (RECTIFY_RENDER_PROCESSES to override), when there are more
    than FORK_ABOVE letters to share; 1 means render here."""
    wanted = int(os.environ.get("RECTIFY_RENDER_PROCESSES") or os.cpu_count() or 1)
    return 1 if letters <= FORK_ABOVE else max(1, min(wanted, -(-letters // chunk)))


def render_day(rt: Runtime, day: DayPlan, steps: Steps, queued: Spool, *, chunk: int = RENDER_CHUNK,
               processes: int | None = None) -> None:
    """Render every letter of the day into the spool, in order.

    Rendering is pure CPU (templates, MIME, base64), about nine tenths of a first day after the notices,
    so with the plain steps it is shared by forked worker processes, one per core: each inherits the day's
    plan by fork instead of receiving it pickled, renders whole chunks, and sends the bytes back. The
    Prefect flow's steps (tasks, FLOW_RENDER_TASK letters each) and small days render in this process.
    """
    global _FORKED
    letters = day.letters
    n = processes or render_processes(len(letters), chunk)
    forkable = "fork" in multiprocessing.get_all_start_methods()
    if steps.render is not render_letters or n < 2 or not forkable:
        step = chunk if processes else max(chunk, FLOW_RENDER_TASK)
        for i in range(0, len(letters), step):
            queued.extend(steps.render(rt, day, letters[i:i + step]))
        return
    from concurrent.futures import ProcessPoolExecutor

    # At least four chunks a worker, so they finish together: in whole 500-letter chunks an ordinary day's
    # 1,661 letters split 1,000/661 between two workers (0.37 s); in 208-letter chunks, 0.32 s.
    chunk = min(chunk, max(BALANCED_CHUNK_MIN, -(-len(letters) // (n * 4))))
    _FORKED = (rt, day, chunk)
    warm_letter_templates()  # compiled here once, not in each worker
    channels = rt.settings.channels
    if channels.configured():  # the IM/SMS templates compiled and the addresses read here once, not in each worker
        warm_channel_templates(channels.wecom.configured and channels.wecom.msgtype == "textcard")
        day.channel_reach = reach_of(rt, letters)
    # The workers only read the day's plan: frozen, it stays out of their garbage collections, which would
    # otherwise walk (and, by touching reference counts, copy) every page of it in each worker.
    try:
        with frozen(), ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            for rows in pool.map(_render_chunk, range(-(-len(letters) // chunk))):
                queued.extend(rows)
    finally:
        _FORKED = None


def notice_order(number: str) -> tuple[int, ...]:
    """〔2024〕3号 before 〔2024〕10号: by the numbers in it, not the characters."""
    return tuple(int(d) for d in re.findall(r"\d+", number))


def run_daily(rt: Runtime, today: date, now: datetime, *, send: bool = True, dry_run: bool = False,
              steps: Steps = PLAIN, max_attempts: int = 5) -> DailyReport:
    """One daily run. `send=False` stops after queueing (delivery is left to the next run or the
    `rectify outbox retry` command); `dry_run` plans and renders but writes nothing. A real run leaves its
    counts in Rectify's own run record (rectify.services.runrecord) for the 驾驶舱."""
    report = _run(rt, today, now, send=send, dry_run=dry_run, steps=steps, max_attempts=max_attempts)
    if not dry_run:
        runrecord.record(rt.settings.data_dir, report.as_dict(), now)
        refresh_statistics(rt.engine)  # tomorrow's plan reads by the indexes that fit (SQLite; milliseconds)
    return report


def _run(rt: Runtime, today: date, now: datetime, *, send: bool, dry_run: bool, steps: Steps,
         max_attempts: int) -> DailyReport:
    cal = rt.refresh_calendar()  # a notice imported since this process started counts today
    report = DailyReport(day=today.isoformat(), working_day=cal.is_working_day(today), dry_run=dry_run,
                         calendar_warning=cliff_warning(cal, today, rt.settings.calendar.warn_from) or "")
    if not report.working_day:
        return report
    with collector_paused():  # the day is built, not churned: see rectify.memory
        built = _build(rt, today, now, report, dry_run=dry_run, steps=steps, max_attempts=max_attempts)
    if built is None:  # a dry run: planned and rendered, nothing written
        return report
    day, committed = built
    with frozen():  # the day's plan and letters stay out of the sending's collections
        _send(rt, now, day, report, send=send, committed=committed, steps=steps)
    return report


def _build(rt: Runtime, today: date, now: datetime, report: DailyReport, *, dry_run: bool, steps: Steps,
           max_attempts: int) -> tuple[DayPlan, bool] | None:
    """Plan, notices, render, commit (retried on a conflict): (the day, whether this run wrote it); None for
    a dry run, whose letters are then in the report."""
    day = steps.plan(rt, today, now)
    if not dry_run:
        day.notices = steps.issue(rt, day)
    queued = Spool()
    committed = False  # this run wrote the day (its WAL pages wait for the checkpoint `_send` starts)
    try:
        give_back()  # the phases' leftovers would otherwise add up to the run's peak (rectify.memory)
        render_day(rt, day, steps, queued)
        give_back()
        queued.extend(robot_rows(rt, day, day.letters))  # 督导组 group chats: one summary each
        summarise(day, report, queued.headers)
        if dry_run:
            report.letters = [{"to": q.recipient, "subject": q.subject, "items": q.items} for q in queued.headers
                              if q.channel == outbox.MAIL]
            return None
        for attempt in range(1, max_attempts + 1):
            report.attempts = attempt
            if not day.routing or not (day.routing.delivered or queued or day.progress_missed):
                break
            try:
                steps.commit(rt, day, queued)
                committed = True
                report.channels_capped = dict(day.channel_capped)
                if day.channel_capped:
                    report.channels = {c: n - day.channel_capped.get(c, 0) for c, n in report.channels.items()}
                break
            except RunConflict as exc:
                if attempt == max_attempts:  # other runs keep winning: they recorded the day; deliver
                    report.conflict = str(exc)
                    break
                # Plan again only what the other run changed; re-render only the letters that differ.
                day, queued, rerendered = resolve(rt, day, queued, exc, steps.render, steps.issue)
                report.replanned += len(exc.findings)
                report.rerendered += rerendered
                summarise(day, report, queued.headers)
    finally:
        queued.close()
    return day, committed


def _send(rt: Runtime, now: datetime, day: DayPlan, report: DailyReport, *, send: bool, committed: bool,
          steps: Steps) -> None:
    """The fault alert, then mail and IM/SMS out (unless `send=False`), the WAL checkpoint beside them."""
    if day.skipped:
        queue_fault_alert(rt, day, report)  # the command office is told once a day (outbox dedupe)
    if send:
        give_back()
        # IM/SMS rows go out from a forked process beside the mail (rectify/channels/alongside.py), with the plain
        # steps only (as render_day forks): never inside the Prefect flow's process, whose tasks run in threads
        plain = steps.dispatch is dispatch_channels and steps.render is render_letters
        beside = alongside.start(rt, now) if plain else None
        # The day's commit left SQLite's WAL checkpoint (copying its megabytes of letters into the database
        # file, and the sync) to now: it runs beside the sending (rectify.checkpoint), after the last fork.
        ckpt = checkpoint.behind(rt.engine) if committed else None
        try:
            result = steps.deliver(rt, now)
            report.delivered = True
            report.sent = result.sent
            report.pending = [{"to": r, "error": e} for _, r, e in result.pending]
            report.failed = [{"to": r, "error": e} for _, r, e in result.failed]
            report.mail_error = result.config_error
            report.in_flight = sum(h.count for h in result.in_flight)
            report.waiting = result.waiting
            _dispatch(rt, now, steps, report, beside)
        finally:
            if ckpt is not None:
                ckpt.join()


def _dispatch(rt: Runtime, now: datetime, steps: Steps, report: DailyReport,
              beside: alongside.Alongside | None = None) -> None:
    """IM/SMS beside or after the mail: whatever happens here, the mail is out and the run does not fail for it."""
    if not (rt.settings.channels.configured() or rt.settings.channels.robots):
        return
    try:
        got = beside.result() if beside is not None else steps.dispatch(rt, now)
    except Exception as exc:  # a channel problem must not fail the day's run for everyone
        log.error("IM/SMS dispatch failed (%s); rows stay pending for `rectify outbox retry`", type(exc).__name__)
        report.channels_down = {"all": scrub(f"{type(exc).__name__}: {exc}", ())}
        return
    report.channels_sent = dict(sorted(got.sent.items()))
    report.channels_pending = [{"channel": c, "to": r, "error": e} for _, c, r, e in got.pending]
    report.channels_failed = [{"channel": c, "to": r, "error": e} for _, c, r, e in got.failed]
    report.channels_down = dict(got.down)
    report.channels_deferred_until = got.deferred_until.isoformat() if got.deferred_until else None
