"""`rectify outbox list|retry`: what the mail outbox holds, and delivering what is left in it."""

from __future__ import annotations

from typing import Annotated

import typer

from rectify.cli.main import app, console, err, initialised_runtime, user_errors

outbox_app = typer.Typer(help="The outbox: every message (mail, 企业微信, 钉钉, SMS) is recorded here before it "
                              "is sent.", no_args_is_help=True, rich_markup_mode=None)
CHANNEL_HELP = "Only this channel: mail, wecom, dingtalk, sms, wecom_robot, dingtalk_robot."
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
@user_errors
def list_(
    limit: Annotated[int, typer.Option(min=1, help="How many recent problems to show.")] = 10,
    channel: Annotated[str | None, typer.Option(help=CHANNEL_HELP)] = None,
) -> None:
    """Counts by channel and state, and the most recent messages that failed or wait for a retry."""
    from sqlalchemy import func, or_, select

    from models import OutboxMessage
    from rectify.mail import outbox

    channel = _channel(channel)
    rt = initialised_runtime()
    try:
        with rt.sessions() as s:
            which = OutboxMessage.channel == channel if channel else OutboxMessage.id.is_not(None)
            counts: dict[str, dict[str, int]] = {}
            for ch, st, n in s.execute(select(OutboxMessage.channel, OutboxMessage.state, func.count()).where(which)
                                       .group_by(OutboxMessage.channel, OutboxMessage.state)):
                counts.setdefault(ch, {})[st] = n
            problems = s.execute(
                select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.state, OutboxMessage.recipient,
                       OutboxMessage.kind, OutboxMessage.day, OutboxMessage.attempts, OutboxMessage.last_error)
                .where(which, or_(OutboxMessage.state == outbox.FAILED,
                                  (OutboxMessage.state == outbox.PENDING) & (OutboxMessage.last_error != "")))
                .order_by(OutboxMessage.id.desc()).limit(limit)
            ).all()
            held = outbox.in_flight(s, where=which)
    finally:
        rt.close()
    states = (outbox.PENDING, outbox.SENDING, outbox.SENT, outbox.FAILED)
    for ch in sorted(counts or {channel or outbox.MAIL: {}}, key=lambda c: (c != outbox.MAIL, c)):
        console.print(f"{ch:<14} " + "  ".join(f"{st}: {counts.get(ch, {}).get(st, 0)}" for st in states),
                      highlight=False)
    for h in held:  # who holds the `sending` rows: a live sender, or one the next run takes back
        until = f", lease until {h.lease_until:%Y-%m-%d %H:%M:%S %Z}" if h.lease_until else ""
        console.print(f"  sending: {h.count} claimed by {h.owner}{until}", highlight=False, markup=False,
                      soft_wrap=True)
    if problems:
        console.print(f"recent problems (newest first, at most {limit}):", highlight=False)
        for p in problems:
            # last_error holds the vendor's words, scrubbed of secrets when recorded; no payload is shown.
            console.print(f"  #{p.id} {p.channel:<8} {p.state:<7} {p.day} {p.kind:<7} {p.recipient}  "
                          f"attempts {p.attempts}: {p.last_error}", highlight=False, markup=False, soft_wrap=True)
    else:
        console.print("no failed or retried messages", highlight=False)


@outbox_app.command("retry")
@user_errors
def retry(
    failed: Annotated[bool, typer.Option("--failed", help="Also put failed messages back in the queue "
                                         "(after fixing an address or the SMTP settings).")] = False,
    channel: Annotated[str | None, typer.Option(help=CHANNEL_HELP)] = None,
) -> None:
    """Deliver every pending message now (what an outage or an interrupted run left behind).

    Mail first; then the IM/SMS channels (outside working hours they wait for the next working morning).
    """
    from rectify.channels.dispatch import ChannelReport, dispatch
    from rectify.mail import outbox
    from rectify.mail.deliver import OutboxReport, flush_outbox

    channel = _channel(channel)
    rt = initialised_runtime()
    try:
        requeued = 0
        if failed:
            with rt.sessions() as s, s.begin():
                requeued = outbox.retry_failed(s, channels=[channel] if channel else None)
        now = rt.now()
        report = flush_outbox(rt.sessions, rt.settings, now) if channel in (None, outbox.MAIL) else OutboxReport()
        channels = dispatch(rt, now, only=channel) if channel != outbox.MAIL else ChannelReport()
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
    _print_channels(channels)
    if report.config_error:
        err.print(f"error: {report.config_error}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2)
    if report.pending or report.failed or channels.pending or channels.failed or channels.down:
        raise typer.Exit(1)


def _channel(name: str | None) -> str | None:
    from rectify.channels.settings import CHANNELS, ROBOTS

    if name is not None and name not in ("mail", *CHANNELS, *ROBOTS):
        raise typer.BadParameter(f"unknown channel {name!r}: {CHANNEL_HELP}", param_hint="--channel")
    return name


def _print_channels(r) -> None:
    if r.deferred_until is not None:
        console.print(f"IM/SMS: quiet hours, waiting until {r.deferred_until:%Y-%m-%d %H:%M}", highlight=False)
    for ch, n in sorted(r.sent.items()):
        console.print(f"{ch}: sent {n}", highlight=False)
    for ch, why in sorted(r.down.items()):
        console.print(f"{ch}: down, rows left pending: {why}", highlight=False, markup=False)
    for msg_id, ch, rcpt, error in r.failed + r.pending:
        console.print(f"  #{msg_id} {ch} {rcpt}: {error}", highlight=False, markup=False)
