"""The command office's one message a day about findings the run had to skip (bad data, a date out of range).

A separate outbox kind ("run_alert"), so it never collides with the daily letters and the unique
(recipient, day, kind) key makes it once a day however many runs there are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rectify.mail import outbox
from rectify.mail.compose import build_message_bytes
from rectify.runtime import Runtime
from rectify.services.daily.plan import DayPlan
from rectify.templating import render, render_subject

if TYPE_CHECKING:
    from rectify.services.daily.run import DailyReport

ALERT_KIND = "run_alert"


def queue_fault_alert(rt: Runtime, day: DayPlan, report: DailyReport) -> int:
    """Queue the alert to every command-office address; returns how many were new today."""
    settings = rt.settings
    if not settings.command_office or not day.skipped:
        return 0
    ctx = {"today": day.today, "skipped": report.skipped, "total": report.skipped_total,
           "sender": settings.smtp.from_name, "portal": settings.public_url.rstrip("/")}
    subject = render_subject("mail/run_alert.subject.txt", **ctx)
    text, html = render("mail/run_alert.txt", **ctx), render("mail/run_alert.html", **ctx)
    rows = [outbox.Queued(addr, ALERT_KIND, day.today,
                          build_message_bytes(from_addr=settings.smtp.from_addr, from_name=settings.smtp.from_name,
                                              to=addr, to_name="指挥部办公室", subject=subject, text=text,
                                              html=html, now=day.now),
                          items=report.skipped_total, subject=subject)
            for addr in settings.command_office]
    with rt.sessions() as s, s.begin():
        return outbox.enqueue(s, rows, day.now)
