"""`rectify remind`: run the daily reminders once (the same run the schedule starts) and print its summary."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated

import typer

from rectify.cli.main import app, console, err, user_errors


def _via_prefect(api_url: str, as_of) -> dict:
    """Run the flow against a real Prefect API, so the run, its tasks and artifact are recorded there."""
    # Prefect's own console lines would bury the summary; its API log handler still records them.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.daily import daily_reminders

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return daily_reminders(as_of=as_of)


@app.command()
@user_errors
def remind(
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                   help="Run for this day (default: today).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and render only: print who would get what; "
                                          "escalate nothing, queue nothing.")] = False,
) -> None:
    """Send today's reminders and escalations once (每日提醒与督办) and print the summary.

    With a Prefect server (PREFECT_API_URL, or the one `rectify serve` runs) the run is recorded there;
    otherwise the same steps run in this process. A second run on the same day sends nothing new.
    """
    from rectify.config import ConfigError
    from rectify.db import is_initialised
    from rectify.runtime import build_runtime
    from rectify.services.daily import DailyReport, run_daily
    from rectify.serving import known_api
    from rectify.templating import render

    rt = build_runtime()
    try:
        if not is_initialised(rt.engine):
            raise ConfigError("the database is empty: run `rectify init` first")
        now = rt.now()
        day = as_of.date() if as_of else now.date()
        api = None if dry_run else known_api(rt.settings)
        if not dry_run and api is None and os.environ.get("PREFECT_API_URL"):
            err.print(f"warning: PREFECT_API_URL ({os.environ['PREFECT_API_URL']}) does not answer; "
                      "running in this process, not recorded in Prefect", highlight=False, soft_wrap=True)
        report = DailyReport(**_via_prefect(api, day)) if api else run_daily(rt, day, now, dry_run=dry_run)
    finally:
        rt.close()
    console.print(render("daily/summary.txt", r=report, day=day).rstrip(), highlight=False, markup=False)
    if api:
        console.print(f"recorded in Prefect at {api}", highlight=False)
    if report.mail_error:
        err.print(f"error: {report.mail_error}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    if report.pending or report.failed:
        raise typer.Exit(1)  # mail left undelivered: `rectify outbox list` shows why, `rectify outbox retry` resends
