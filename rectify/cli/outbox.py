"""`rectify outbox list|retry`: what the mail outbox holds, and delivering what is left in it."""

from __future__ import annotations

from typing import Annotated

import typer

from rectify.cli.main import app, console, err, initialised_runtime, user_errors

outbox_app = typer.Typer(help="The mail outbox: every message is recorded here before it is sent.",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
@user_errors
def list_(
    limit: Annotated[int, typer.Option(min=1, help="How many recent problems to show.")] = 10,
) -> None:
    """Counts by state, and the most recent messages that failed or wait for a retry."""
    from sqlalchemy import func, or_, select

    from models import OutboxMessage
    from rectify.mail import outbox

    rt = initialised_runtime()
    try:
        with rt.sessions() as s:
            counts = dict(s.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
            problems = s.execute(
                select(OutboxMessage.id, OutboxMessage.state, OutboxMessage.recipient, OutboxMessage.kind,
                       OutboxMessage.day, OutboxMessage.attempts, OutboxMessage.last_error)
                .where(or_(OutboxMessage.state == outbox.FAILED,
                           (OutboxMessage.state == outbox.PENDING) & (OutboxMessage.last_error != "")))
                .order_by(OutboxMessage.id.desc()).limit(limit)
            ).all()
            held = outbox.in_flight(s)
    finally:
        rt.close()
    states = (outbox.PENDING, outbox.SENDING, outbox.SENT, outbox.FAILED)
    console.print("  ".join(f"{st}: {counts.get(st, 0)}" for st in states), highlight=False)
    for h in held:  # who holds the `sending` rows: a live sender, or one the next run takes back
        until = f", lease until {h.lease_until:%Y-%m-%d %H:%M:%S %Z}" if h.lease_until else ""
        console.print(f"  sending: {h.count} claimed by {h.owner}{until}", highlight=False, markup=False,
                      soft_wrap=True)
    if problems:
        console.print(f"recent problems (newest first, at most {limit}):", highlight=False)
        for p in problems:
            console.print(f"  #{p.id} {p.state:<7} {p.day} {p.kind:<7} {p.recipient}  attempts {p.attempts}: "
                          f"{p.last_error}", highlight=False, markup=False)
    else:
        console.print("no failed or retried messages", highlight=False)


@outbox_app.command("retry")
@user_errors
def retry(
    failed: Annotated[bool, typer.Option("--failed", help="Also put failed messages back in the queue "
                                         "(after fixing an address or the SMTP settings).")] = False,
) -> None:
    """Deliver every pending message now (what an outage or an interrupted run left behind)."""
    from rectify.mail import outbox
    from rectify.mail.deliver import flush_outbox

    rt = initialised_runtime()
    try:
        requeued = 0
        if failed:
            with rt.sessions() as s, s.begin():
                requeued = outbox.retry_failed(s)
        report = flush_outbox(rt.sessions, rt.settings, rt.now())
    finally:
        rt.close()
    where = f"SMTP {rt.settings.smtp.host}:{rt.settings.smtp.port}" if rt.settings.smtp_configured else \
        f".eml files in {rt.settings.outbox_path}"
    if failed:
        console.print(f"requeued {requeued} failed message(s)", highlight=False)
    console.print(f"sent {report.sent} via {where}; still pending {len(report.pending)}; failed "
                  f"{len(report.failed)}; being sent elsewhere {sum(h.count for h in report.in_flight)}",
                  highlight=False, soft_wrap=True)
    for msg_id, rcpt, error in report.failed + report.pending:
        console.print(f"  #{msg_id} {rcpt}: {error}", highlight=False, markup=False)
    for held in report.in_flight:
        until = f" (lease until {held.lease_until:%Y-%m-%d %H:%M:%S %Z})" if held.lease_until else ""
        console.print(f"still being sent by {held.owner}: {held.count} message(s){until}; not touched while "
                      "that sender lives", highlight=False, markup=False)
    if report.config_error:
        err.print(f"error: {report.config_error}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    if report.pending or report.failed:
        raise typer.Exit(1)
