"""Flow `weekly_digest`: the command office's weekly mail (deployment `weekly-digest`, Fridays 16:00).

compute (pure, `rectify.bulletin.weekly`) → render (charts + templates) → enqueue → flush_outbox.
Idempotent per week: the outbox key uses the week's Monday, so a rerun in the same week sends nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.bulletin import retry_unless_user_error
from rectify.bulletin import digest as service
from rectify.bulletin.weekly import Digest
from rectify.runtime import Runtime, build_runtime


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=retry_unless_user_error, cache_policy=NO_CACHE)
def compute(rt: Runtime, week_of: date, today: date) -> Digest:
    return service.build(rt, week_of=week_of, today=today)


@task(cache_policy=NO_CACHE)
def render(d: Digest, rt: Runtime) -> service.RenderedDigest:
    return service.render_digest(d, rt.settings)


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def enqueue(rt: Runtime, d: Digest, rendered: service.RenderedDigest, now: datetime) -> int:
    with rt.sessions() as s, s.begin():
        return service.queue_digest(s, d, rendered, rt.settings, now)


@task(retries=2, retry_delay_seconds=30, cache_policy=NO_CACHE)
def flush(rt: Runtime, now: datetime):
    from rectify.mail.deliver import flush_outbox

    return flush_outbox(rt.sessions, rt.settings, now)


@flow(name="weekly-digest")
def weekly_digest(week_of: date | None = None) -> dict[str, Any]:
    """Mail the digest of the week containing `week_of` (default: this week) to the command office."""
    log = get_run_logger()
    rt = build_runtime()
    try:
        now, today = rt.now(), rt.today()
        d = compute(rt, week_of or today, today)
        queued = 0
        if rt.settings.command_office:
            rendered = render(d, rt)
            create_markdown_artifact(rendered.markdown, key="weekly-digest",
                                     description=f"整改周报 {d.week_start.isoformat()}")
            queued = enqueue(rt, d, rendered, now)
        else:
            log.warning("no command_office addresses are configured: the digest is not mailed")
        report = flush(rt, now)
    finally:
        rt.close()
    if queued == 0 and rt.settings.command_office:
        log.info("the digest of the week of %s was already queued; nothing new to send", d.week_start)
    for msg_id, rcpt, error in report.failed:
        log.error("digest message %s to %s failed: %s", msg_id, rcpt, error)
    return {"week_start": d.week_start.isoformat(), "as_of": d.as_of.isoformat(), "queued": queued,
            "sent": report.sent, "failed": len(report.failed), "pending": len(report.pending),
            "this_week": {"new": d.this.new, "closed": d.this.closed, "awaiting": d.this.awaiting,
                          "overdue": d.this.overdue, "overdue_original": d.this.overdue_original},
            "unit_colours": d.unit_colours, "red_units": [u.unit for u in d.red_units],
            "rechecks": {"due": d.rechecks.due, "confirmed": d.rechecks.confirmed, "pending": d.rechecks.pending,
                         "reopened": len(d.rechecks.reopened)}}
