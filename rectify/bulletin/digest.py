"""The weekly digest's edges: read rows, render the mail (text + HTML + inline charts), queue it.

Sent once per week: the outbox key is (recipient, Monday of the week, "digest"), so a second run in the
same week queues nothing and therefore sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Event, Finding, Unit
from rectify.bulletin import charts
from rectify.bulletin.errors import BulletinError
from rectify.bulletin.query import local_day, reopen_days
from rectify.bulletin.stats import UnitRow
from rectify.bulletin.weekly import Digest, DigestRow, compute_digest
from rectify.config import Settings
from rectify.mail.compose import InlineImage, build_message
from rectify.mail.deliver import OutboxReport, flush_outbox
from rectify.mail.outbox import Queued, enqueue
from rectify.runtime import Runtime
from rectify.services.colours import refused_extension_ids
from rectify.services.followup_stats import followup_by_unit
from rectify.templating import render, render_subject

KIND = "digest"


@dataclass
class RenderedDigest:
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...]
    markdown: str  # the same digest as a Prefect artifact


@dataclass
class DigestRun:
    digest: Digest
    queued: int = 0
    recipients: list[str] = field(default_factory=list)
    report: OutboxReport | None = None


def load_rows(session: Session, tz: str) -> tuple[list[UnitRow], list[DigestRow]]:
    units = [UnitRow(r.id, r.name, r.kind, r.sort_order)
             for r in session.execute(select(Unit.id, Unit.name, Unit.kind, Unit.sort_order))]
    cancelled = dict(session.execute(
        select(Event.finding_id, func.max(Event.at)).where(Event.kind == "cancel").group_by(Event.finding_id)).all())
    q = select(Finding.id, Finding.code, Finding.unit_id, Finding.state, Finding.inspected_on, Finding.due_date,
               Finding.reported_at, Finding.closed_at, Finding.problem, Finding.original_due_date,
               Finding.extensions_used, Finding.level, Finding.rechecked_at).order_by(Finding.id)
    reopened = reopen_days(session, tz)
    refused = refused_extension_ids(session)
    rows = []
    for r in session.execute(q):
        cancelled_on = local_day(cancelled.get(r.id), tz) if r.state == "cancelled" else None
        rows.append(DigestRow(
            id=r.id, unit_id=r.unit_id, state=r.state, inspected_on=r.inspected_on, due_date=r.due_date,
            reported_on=local_day(r.reported_at, tz),
            closed_on=local_day(r.closed_at, tz) if r.state == "closed" else None,
            cancelled_on=cancelled_on, problem=r.problem, code=r.code, original_due=r.original_due_date,
            extensions=r.extensions_used or 0, level=r.level or 0, extension_refused=r.id in refused,
            reopened_on=reopened.get(r.id, ()), rechecked_on=local_day(r.rechecked_at, tz)))
    return units, rows


def build(rt: Runtime, *, week_of: date, today: date) -> Digest:
    with rt.sessions() as s:
        units, rows = load_rows(s, rt.settings.timezone)
    from rectify.services.calendar import cliff_warning

    cal = rt.refresh_calendar()
    with rt.sessions() as s:
        try:
            d = compute_digest(units, rows, week_of=week_of, today=today, cal=cal,
                               unit_order=rt.settings.bulletin.unit_order, ladder=rt.ladder,
                               supervision=rt.settings.supervision)
        except ValueError as exc:  # a week that has not started
            raise BulletinError(str(exc)) from None
        # 签收及时率 and missed progress reports per unit, this week up to today (issue 15)
        d.followup = followup_by_unit(s, d.week_start, d.as_of, rt.settings.timezone,
                                      rt.settings.bulletin.unit_order)
    d.calendar_warning = cliff_warning(cal, today, rt.settings.calendar.warn_from) or ""
    # 签收及时率 and missed progress reports per unit, this week up to today (issue 15)
    with rt.sessions() as s:
        d.followup = followup_by_unit(s, d.week_start, d.as_of, rt.settings.timezone,
                                      rt.settings.bulletin.unit_order)
    add_ranking(rt, d)
    return d


def add_ranking(rt: Runtime, d: Digest, n: int = 5) -> None:
    """红黑榜: the top and bottom `n` of the 考评 ranking over `assessment.period_days` days up to the digest's day."""
    from rectify.services.assessment import assess_runtime, period

    start, end = period(d.as_of, None, rt.settings.assessment.period_days)
    a = assess_runtime(rt, start=start, end=end)
    d.ranking_start, d.honour, d.shame = start, a.top(n), a.bottom(n)


def cids(d: Digest) -> dict[str, str]:
    stamp = d.week_start.strftime("%Y%m%d")
    return {"rate": f"digest-rate-{stamp}@rectify", "trend": f"digest-trend-{stamp}@rectify"}


def render_digest(d: Digest, settings: Settings) -> RenderedDigest:
    ids = cids(d)
    ctx = {"d": d, "cids": ids, "form_url": settings.public_url.rstrip("/") + "/"}
    images = (InlineImage(ids["rate"], charts.rate_chart(d.units)),
              InlineImage(ids["trend"], charts.trend_chart(d.trend)))
    return RenderedDigest(
        subject=render_subject("mail/digest.subject.txt", **ctx),
        text=render("mail/digest.txt", **ctx),
        html=render("mail/digest.html", **ctx),
        images=images,
        markdown=render("mail/digest.md", **ctx),
    )


def queue_digest(session: Session, d: Digest, r: RenderedDigest, settings: Settings, now: datetime) -> int:
    """One message per command-office address, keyed on the week's Monday; returns how many were new."""
    rows = [Queued(addr, KIND, d.week_start,
                   build_message(from_addr=settings.smtp.from_addr, from_name=settings.smtp.from_name, to=addr,
                                 subject=r.subject, text=r.text, html=r.html, now=now, inline_images=r.images),
                   items=d.this.overdue, meta={"week_start": d.week_start.isoformat()})
            for addr in dict.fromkeys(a.strip().lower() for a in settings.command_office if a.strip())]
    return enqueue(session, rows, now)


def send_weekly_digest(rt: Runtime, *, week_of: date, today: date, now: datetime, flush: bool = True) -> DigestRun:
    """compute → render → enqueue → flush, for the CLI (the flow runs the same steps as tasks)."""
    d = build(rt, week_of=week_of, today=today)
    run = DigestRun(d, recipients=list(rt.settings.command_office))
    if rt.settings.command_office:
        rendered = render_digest(d, rt.settings)
        with rt.sessions() as s, s.begin():
            run.queued = queue_digest(s, d, rendered, rt.settings, now)
    if flush:
        run.report = flush_outbox(rt.sessions, rt.settings, now)
    return run
