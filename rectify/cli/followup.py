"""`rectify ack`, `rectify progress` and `rectify followup`: 签收 and 进展反馈 from the terminal, for an office
that enters what a unit phoned in, and the per-unit 签收及时率 / 进展按时率 table. Same services as the form."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from rectify.cli.main import app, console, err, initialised_runtime, user_errors


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(2)


def _person(s, email: str):
    from sqlalchemy import func, select

    from models import Person

    p = s.scalar(select(Person).where(func.lower(Person.email) == email.strip().lower(), Person.active.is_(True)))
    if p is None:
        _fail(f"no active person with the e-mail address {email!r} (see `rectify people list`)")
    return p


@app.command()
@user_errors
def ack(
    codes: Annotated[list[str] | None, typer.Argument(help="编号 of the findings; none: all of the unit's new ones.")]
    = None,
    as_: Annotated[str, typer.Option("--as", help="E-mail of the unit contact or leader who acknowledges.")] = "",
) -> None:
    """签收: acknowledge new or reassigned findings for a unit's contact or leader (all at once without codes)."""
    from sqlalchemy import select

    from models import Finding
    from rectify.core.practice import PracticeError
    from rectify.services.access import Viewer
    from rectify.services.findings import Actor, ConflictError
    from rectify.services.followup import NotAllowed, acknowledge, acknowledge_all

    if not as_.strip():
        _fail("--as EMAIL is required: who acknowledges")
    rt = initialised_runtime()
    try:
        now, today = rt.now(), rt.today()
        with rt.sessions() as s:
            person = _person(s, as_)
            viewer, actor = Viewer.of(person), Actor.of(person, "cli")
            try:
                if not codes:
                    done = acknowledge_all(s, viewer, actor, now, today)
                    s.commit()
                    console.print(f"acknowledged {len(done)} finding(s) of the unit", highlight=False)
                    return
                found = {f.code: f for f in s.scalars(select(Finding).where(Finding.code.in_(codes)))}
                missing = [c for c in codes if c not in found]
                if missing:
                    _fail(f"no finding with 编号 {'、'.join(missing)}")
                for code in codes:
                    acknowledge(s, found[code], viewer, actor, now, today)
                s.commit()
            except NotAllowed:
                _fail(f"{person.email} may not acknowledge these findings (not their unit, or not a unit role)")
            except (PracticeError, ConflictError) as exc:
                _fail(f"nothing acknowledged: {exc}")
        console.print(f"acknowledged {len(codes)} finding(s)", highlight=False)
    finally:
        rt.close()


@app.command()
@user_errors
def progress(
    code: Annotated[str, typer.Argument(help="编号 of the finding.")],
    text: Annotated[str, typer.Option("--text", help="The 阶段性进展 (required, at most 2000 characters).")] = "",
    as_: Annotated[str, typer.Option("--as", help="E-mail of the unit contact who reports.")] = "",
) -> None:
    """进展反馈: record a 阶段性进展 for a finding that owes one (evidence goes through the form)."""
    from sqlalchemy import select

    from models import Finding
    from rectify.core.followup import FollowupRules
    from rectify.core.practice import PracticeError
    from rectify.services.access import Viewer
    from rectify.services.findings import Actor, ConflictError
    from rectify.services.followup import NotAllowed, submit_progress

    if not as_.strip():
        _fail("--as EMAIL is required: who reports")
    rt = initialised_runtime()
    try:
        with rt.sessions() as s:
            person = _person(s, as_)
            f = s.scalar(select(Finding).where(Finding.code == code))
            if f is None:
                _fail(f"no finding with 编号 {code}")
            try:
                r = submit_progress(s, f, Viewer.of(person), Actor.of(person, "cli"), rt.now(), rt.today(),
                                    rt.calendar, FollowupRules.of(rt.settings.supervision), text=text)
                s.commit()
            except NotAllowed:
                _fail(f"{person.email} may not report progress on {code} (only its unit's contact)")
            except (PracticeError, ConflictError) as exc:
                _fail(f"nothing recorded: {exc}")
            nxt = f.progress_due_on
            console.print(f"{code}: progress recorded ({'on time' if r.on_time else 'late'}, due {r.due_on}); "
                          f"next due {nxt or 'none'}", highlight=False)
    finally:
        rt.close()


@app.command()
@user_errors
def followup(
    from_: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                   help="First day (default: 30 days before --to).")] = None,
    to: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                help="Last day (default today).")] = None,
) -> None:
    """签收及时率 and 进展按时率 per unit over a period (the rules are in docs/practice.md)."""
    from datetime import timedelta

    from rectify.services.followup_stats import followup_by_unit
    from rectify.templating import cn_percent

    rt = initialised_runtime()
    try:
        end = to.date() if to else rt.today()
        start = from_.date() if from_ else end - timedelta(days=29)
        if start > end:
            _fail(f"--from {start} is after --to {end}")
        with rt.sessions() as s:
            rows = followup_by_unit(s, start, end, rt.settings.timezone, rt.settings.bulletin.unit_order)
    finally:
        rt.close()
    console.print(f"签收 and 进展反馈 {start}..{end}", highlight=False)
    if not rows:
        console.print("nothing was due in this period", highlight=False)
        return
    console.print(f"{'单位':<14}{'应签收':>6}{'按期':>6}{'签收及时率':>10}{'按期报送':>8}{'未按期':>6}{'进展按时率':>10}",
                  highlight=False)
    for u in rows:
        ack_rate = cn_percent(u.ack_on_time, u.ack_due) if u.ack_due else "—"
        pr = cn_percent(u.reports_on_time, u.reports_on_time + u.missed) if u.reports_on_time + u.missed else "—"
        console.print(f"{u.unit:<14}{u.ack_due:>6}{u.ack_on_time:>6}{ack_rate:>10}{u.reports_on_time:>8}"
                      f"{u.missed:>6}{pr:>10}", highlight=False)
