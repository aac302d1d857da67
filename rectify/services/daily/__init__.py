"""The daily run as plain functions: plan → notices → render → commit → deliver. The Prefect flow wraps
each step in a task (flows/daily.py); the CLI and the bench call `run_daily` with the same steps.

Crash safety rests on one transaction: the day's escalations (levels, events, review dates) and the
day's outbox rows (mail, and the IM/SMS rows beside it: rectify/channels/) commit together, or not at all.
Delivery comes after, from the outbox, so a crash
at any point either leaves nothing behind (re-run does it all) or leaves committed, pending mail
(re-run finds nothing new to escalate and delivers what is pending). 督办通知 are the one exception: they
are numbered and recorded in their own short transaction before the letters that carry them are rendered,
and are idempotent per unit and day, so a re-run on the same day gets the same notice back (docs/daily-run.md).

Split where the day divides: `plan` (read and route), `letters` (notices and rendering), `commit` (the one
transaction), `run` (the sequence and its report).
"""

from rectify.services.daily.commit import commit_day
from rectify.services.daily.letters import (
    LIST_LIMIT,
    UNIT_TABLE_LIMIT,
    Spool,
    _per_unit,
    issue_day_notices,
    render_letters,
)
from rectify.services.daily.plan import (
    KIND,
    DayPlan,
    Detail,
    NoticeRef,
    RunConflict,
    already_mailed,
    plan_day,
)
from rectify.services.daily.run import (
    PLAIN,
    DailyReport,
    Steps,
    deliver,
    dispatch_channels,
    render_day,
    run_daily,
    summarise,
)

__all__ = [
    "KIND", "LIST_LIMIT", "PLAIN", "UNIT_TABLE_LIMIT", "DailyReport", "DayPlan", "Detail", "NoticeRef",
    "RunConflict", "Spool", "Steps", "_per_unit", "already_mailed", "commit_day", "deliver", "dispatch_channels",
    "issue_day_notices", "plan_day", "render_day", "render_letters", "run_daily", "summarise",
]
