"""Prefect flow `daily-reminders`: every working morning, one letter per person with today's
reminders, escalations (提醒 → 催办 → 督办 → 通报) and long-term reviews, exactly once per day.

The flow is thin: the steps are the plain functions of `rectify.services.daily` (the CLI and the
bench run the very same `run_daily`), each wrapped here in a task that works on a batch — never a
task per finding or per mail. It ends with a markdown artifact summarising the run.
"""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from rectify.runtime import build_runtime
from rectify.services.daily import (
    DailyReport,
    RunConflict,
    Steps,
    commit_day,
    deliver,
    issue_day_notices,
    plan_day,
    render_letters,
    run_daily,
)
from rectify.templating import render

ARTIFACT_KEY = "daily-reminders"

# Batches are big in-memory objects: no caching, no result persistence, and `quote()` on the way in
# so Prefect does not walk them looking for futures.
_batch = {"cache_policy": NO_CACHE, "persist_result": False}


def _unless_conflict(task, task_run, state) -> bool:  # Prefect's retry_condition_fn signature
    """Retry transient database errors, not a lost race: the flow plans again instead."""
    return not isinstance(state.data, RunConflict)


@task(name="load-and-plan", retries=2, retry_delay_seconds=10, **_batch)
def plan_task(rt, today, now):
    return plan_day(rt, today, now)


@task(name="issue-notices", retries=2, retry_delay_seconds=10, **_batch)
def notices_task(rt, day):
    return issue_day_notices(rt, day)  # idempotent per unit and day: a retry returns the same notices


@task(name="render-letters", **_batch)
def render_task(rt, day, letters):
    return render_letters(rt, day, letters)


@task(name="record-and-queue", retries=2, retry_delay_seconds=10, retry_condition_fn=_unless_conflict, **_batch)
def commit_task(rt, day, queued):
    return commit_day(rt, day, queued)


@task(name="send", retries=2, retry_delay_seconds=30, **_batch)
def send_task(rt, now):
    return deliver(rt, now)


TASK_STEPS = Steps(
    plan=lambda rt, today, now: plan_task(quote(rt), today, now),
    issue=lambda rt, day: notices_task(quote(rt), quote(day)),
    render=lambda rt, day, letters: render_task(quote(rt), quote(day), quote(letters)),
    commit=lambda rt, day, queued: commit_task(quote(rt), quote(day), quote(queued)),
    deliver=lambda rt, now: send_task(quote(rt), now),
)


def summary_markdown(report: DailyReport) -> str:
    return render("daily/summary.md", r=report, day=date.fromisoformat(report.day))


@flow(name="daily-reminders", description="每日整改提醒与督办：逐级提醒、催办、督办、通报，每人每天一封邮件。")
def daily_reminders(as_of: date | None = None, send: bool = True, now: datetime | None = None) -> dict:
    """Run the day `as_of` (default: today in the configured zone). `send=False` queues without sending."""
    logger = get_run_logger()
    rt = build_runtime()
    try:
        now = now or rt.now()
        today = as_of or now.astimezone(rt.tz).date()
        report = run_daily(rt, today, now, send=send, steps=TASK_STEPS)
    finally:
        rt.close()
    create_markdown_artifact(summary_markdown(report), key=ARTIFACT_KEY,
                             description=render("daily/summary_line.txt", r=report).strip())
    logger.info(render("daily/summary_line.txt", r=report).strip())
    if report.mail_error:
        logger.error("nothing was sent, every letter is kept: %s", report.mail_error)
    if report.pending or report.failed:
        logger.warning("%d message(s) left pending, %d failed: see the artifact", len(report.pending),
                       len(report.failed))
    return report.as_dict()


if __name__ == "__main__":  # pragma: no cover - `python flows/daily.py` runs today once
    daily_reminders()
