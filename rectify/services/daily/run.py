"""The run itself: plan → notices → render → commit → deliver, retried on a conflict, and its report."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from rectify.core.routing import (
    KINDS_BY_URGENCY,
    Letter,
)
from rectify.mail import outbox
from rectify.mail.deliver import OutboxReport, flush_outbox
from rectify.runtime import Runtime
from rectify.services.calendar import cliff_warning
from rectify.services.daily.alerts import queue_fault_alert
from rectify.services.daily.commit import commit_day
from rectify.services.daily.letters import Spool, issue_day_notices, render_letters
from rectify.services.daily.plan import (
    NOT_LADDER,
    RENDER_CHUNK,
    REPORT_LIMIT,
    DayPlan,
    NoticeRef,
    RunConflict,
    plan_day,
)


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

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
    report.provisional = day.provisional
    report.skipped_total = len(day.skipped)
    report.skipped = [{"code": code, "reason": why} for _, code, why in day.skipped[:REPORT_LIMIT]]
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


def notice_order(number: str) -> tuple[int, ...]:
    """〔2024〕3号 before 〔2024〕10号: by the numbers in it, not the characters."""
    return tuple(int(d) for d in re.findall(r"\d+", number))


def run_daily(rt: Runtime, today: date, now: datetime, *, send: bool = True, dry_run: bool = False,
              steps: Steps = PLAIN, max_attempts: int = 3) -> DailyReport:
    """One daily run. `send=False` stops after queueing (delivery is left to the next run or the
    `rectify outbox retry` command); `dry_run` plans and renders but writes nothing."""
    cal = rt.refresh_calendar()  # a notice imported since this process started counts today
    report = DailyReport(day=today.isoformat(), working_day=cal.is_working_day(today), dry_run=dry_run,
                         calendar_warning=cliff_warning(cal, today, rt.settings.calendar.warn_from) or "")
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
            except RunConflict as exc:
                if attempt == max_attempts:  # other runs keep winning: they recorded the day; deliver
                    report.conflict = str(exc)
                    break
        finally:
            queued.close()
    if day.skipped and not dry_run:
        queue_fault_alert(rt, day, report)  # the command office is told once a day (outbox dedupe)
    if send:
        result = steps.deliver(rt, now)
        report.delivered = True
        report.sent = result.sent
        report.pending = [{"to": r, "error": e} for _, r, e in result.pending]
        report.failed = [{"to": r, "error": e} for _, r, e in result.failed]
        report.mail_error = result.config_error
        report.in_flight = sum(h.count for h in result.in_flight)
        report.waiting = result.waiting
    return report
