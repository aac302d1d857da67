"""Simulate a month of supervision on a throwaway county, day by day, with the real code paths.

Every working day the daily run (`run_daily`, the body of the `daily-reminders` flow) sends its mail;
units report and supervisors verify or send back through `rectify.services.findings.act`, as the form
does; two units ask for more time before their deadline and a supervisor approves one and refuses the other;
each Friday the weekly digest goes out; at the end the next bulletin is compiled. Time is a
parameter: the runtime's clock is set to each simulated moment, nothing sleeps.
"""

from __future__ import annotations

import random
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pendulum
from sqlalchemy import func, select

from models import Finding, Notice, OutboxMessage, Person, SupervisionGroup
from rectify.bulletin.digest import send_weekly_digest
from rectify.bulletin.issue import compile_issue
from rectify.channels.dispatch import dispatch
from rectify.config import load_settings
from rectify.core.assessment import Ranked
from rectify.core.ladder import is_overdue
from rectify.core.lifecycle import ACTIVE, State
from rectify.db import migrate
from rectify.demo.county import GROUPS, person_name
from rectify.demo.followup import FollowupHabits, followup_day, tally
from rectify.demo.inputs import write_findings, write_units
from rectify.demo.vendors import DEMO_SECRET, DemoVendors
from rectify.intake.service import run_findings_import, run_ledger_export, run_units_import
from rectify.links import login_url
from rectify.runtime import Runtime, build_runtime
from rectify.services.assessment import assess_runtime
from rectify.services.assessment_export import write_xlsx
from rectify.services.daily import Steps, run_daily
from rectify.services.findings import Actor, act
from rectify.services.practice import decide_extension, request_extension
from rectify.templating import TEMPLATES, render

ROUND = "2024年法治政府建设示范创建专项督导"  # demo data: the round's name as the office would type it


@dataclass
class DemoResult:
    out: Path
    config: Path
    start: date
    end: date
    days: int
    found: int = 0
    closed: int = 0
    reported: int = 0
    overdue: int = 0
    rejected_once: int = 0
    mails_by_level: Counter[str] = field(default_factory=Counter)
    digests: int = 0
    bulletin: dict[str, Path] = field(default_factory=dict)
    bulletin_no: int = 0
    ledger: Path | None = None
    digest_eml: Path | None = None
    outbox: Path | None = None
    links: dict[str, str] = field(default_factory=dict)
    extensions_approved: int = 0
    extensions_refused: int = 0
    extensions_asked_on: date | None = None
    mails_by_colour: Counter[str] = field(default_factory=Counter)
    notices: int = 0
    notices_dir: Path | None = None
    channels_queued: Counter[str] = field(default_factory=Counter)  # IM/SMS rows the daily runs queued
    channels_sent: Counter[str] = field(default_factory=Counter)  # … and sent, as the runs reported
    channels_received: Counter[str] = field(default_factory=Counter)  # … as the in-process vendors counted
    ranking: list[Ranked] = field(default_factory=list)  # 考评 over the simulated days: top five, then bottom five
    ranked_units: int = 0
    ranking_xlsx: Path | None = None
    followup: dict[str, int] = field(default_factory=dict)  # 签收 and 进展反馈 (rectify.demo.followup.tally)


def _texts() -> dict[str, list[str]]:
    with (TEMPLATES / "demo" / "texts.toml").open("rb") as fh:
        return tomllib.load(fh)


def choose_window(rt_calendar, today: date, days: int, end: date | None) -> tuple[date, date]:
    """End today when the calendar knows enough of the future for the deadlines, else earlier."""
    if end is None:
        horizon = date(max(rt_calendar.years), 12, 31) - timedelta(days=90)
        end = min(today, horizon)
    return end - timedelta(days=days - 1), end


def _write_config(out: Path, public_url: str) -> Path:
    path = out / "rectify.toml"
    path.write_text(render("demo/rectify.toml", data_dir=str(out / "var"), config_path=str(path),
                           public_url=public_url, demo_secret=DEMO_SECRET), encoding="utf-8")
    return path


def _supervisors(rt: Runtime) -> None:
    """Two members per supervision group and an admin for the command office."""
    with rt.sessions() as s, s.begin():
        for g, name in enumerate(GROUPS):
            group = s.scalar(select(SupervisionGroup).where(SupervisionGroup.name == name))
            if group is None:
                group = SupervisionGroup(name=name)
                s.add(group)
                s.flush()
            for m in range(2):
                s.add(Person(name=person_name(200 + 2 * g + m), email=f"dd{g + 1}.{m + 1}@lushan.example",
                             role="supervisor", group_id=group.id))
        s.add(Person(name=person_name(300), email="admin@lushan.example", role="admin"))


@dataclass
class Plan:
    """When each simulated unit reports: decided up front from a seeded random profile."""

    report_on: dict[int, date]
    rng: random.Random


def _plan_reports(rt: Runtime, seed: int) -> Plan:
    rng = random.Random(seed)
    cal = rt.calendar
    plan: dict[int, date] = {}
    with rt.sessions() as s:
        for fid, due, inspected in s.execute(select(Finding.id, Finding.due_date, Finding.inspected_on)
                                             .order_by(Finding.id)):
            profile = rng.random()
            if due is None or profile > 0.85:  # long-term items and the slowest units: no report this month
                continue
            if profile < 0.6:  # on time, a few working days early
                day = cal.add_working_days(due, -rng.randint(0, 3)) if rng.random() < 0.8 else due
            else:  # late, after the reminders and 催办
                day = cal.add_working_days(due, rng.randint(1, 8))
            plan[fid] = max(day, cal.add_working_days(inspected, 1))
    return Plan(plan, rng)


def _at(rt: Runtime, day: date, hour: int, minute: int = 0) -> datetime:
    return pendulum.instance(datetime.combine(day, time(hour, minute)), tz=rt.tz)


def _unit_contacts(rt: Runtime) -> dict[int, Person]:
    with rt.sessions() as s:
        return {p.unit_id: p for p in s.scalars(select(Person).where(Person.role == "unit_contact"))}


def _group_members(rt: Runtime) -> dict[int, list[Person]]:
    out: dict[int, list[Person]] = {}
    with rt.sessions() as s:
        for p in s.scalars(select(Person).where(Person.role == "supervisor").order_by(Person.id)):
            out.setdefault(p.group_id, []).append(p)
    return out


def _work_day(rt: Runtime, day: date, plan: Plan, texts, contacts, members, result: DemoResult) -> None:
    """Units report what they planned to; supervisors look at reports from earlier days."""
    rng = plan.rng
    with rt.sessions() as s, s.begin():
        rt.clock = lambda: _at(rt, day, 10)
        due_reports = [fid for fid, d in plan.report_on.items() if d <= day]
        for f in s.scalars(select(Finding).where(Finding.id.in_(due_reports),
                                                 Finding.state.in_([str(x) for x in ACTIVE]))):
            contact = contacts.get(f.unit_id)
            if contact is None:
                continue
            act(s, f, "report", Actor.of(contact, "10.12.0.8"), _at(rt, day, 10, rng.randint(0, 59)),
                measures=rng.choice(texts["measures"]), progress=rng.choice(texts["progress"]),
                expected_version=f.version)
            plan.report_on.pop(f.id, None)
        # Supervisors verify reports at least a day old: most close, some are sent back with a reason.
        yesterday = _at(rt, day, 0)
        for f in s.scalars(select(Finding).where(Finding.state == State.REPORTED, Finding.reported_at < yesterday)):
            group = members.get(f.group_id) or [None]
            who = group[f.id % len(group)]
            if who is None or rng.random() < 0.2:
                continue  # not looked at today
            actor = Actor.of(who, "10.12.1.20")
            if rng.random() < 0.15:
                act(s, f, "reject", actor, _at(rt, day, 15), note=rng.choice(texts["reject_reasons"]),
                    expected_version=f.version)
                plan.report_on[f.id] = rt.calendar.add_working_days(day, rng.randint(1, 3))
                result.rejected_once += 1
            else:
                act(s, f, "verify", actor, _at(rt, day, 15, 30), note=rng.choice(texts["verify_notes"]),
                    expected_version=f.version)


def _extensions(rt: Runtime, day: date, plan: Plan, texts, contacts, members, result: DemoResult) -> None:
    """Once, when two units have findings due within a week: each asks for more time before its deadline
    (as the unit contact does on the form); the group's supervisor approves the first and refuses the second."""
    if result.extensions_asked_on is not None:
        return
    cal = rt.calendar
    soon = cal.add_working_days(day, 5)
    with rt.sessions() as s, s.begin():
        picked: dict[int, Finding] = {}
        for f in s.scalars(select(Finding).where(Finding.state == State.OPEN, Finding.due_date > day,
                                                 Finding.due_date <= soon).order_by(Finding.due_date, Finding.id)):
            if f.unit_id in contacts and members.get(f.group_id) and f.id in plan.report_on:
                picked.setdefault(f.unit_id, f)
            if len(picked) == 2:
                break
        if len(picked) < 2:
            return
        limit = rt.settings.supervision.max_extensions
        for i, f in enumerate(picked.values()):
            asked = _at(rt, day, 9, 30)
            req = request_extension(s, f, Actor.of(contacts[f.unit_id], "10.12.0.8"), asked, day,
                                    proposed=cal.add_working_days(f.due_date, 10), reason=texts["extension_reasons"][i],
                                    limit=limit)
            supervisor = Actor.of(members[f.group_id][0], "10.12.1.20")
            if i == 0:
                decide_extension(s, req, supervisor, _at(rt, day, 15), day, approve=True)
                plan.report_on[f.id] = cal.add_working_days(req.approved_due, -1)  # done within the new date
                result.extensions_approved += 1
            else:
                decide_extension(s, req, supervisor, _at(rt, day, 15), day, approve=False,
                                 note=texts["extension_refusals"][0])
                plan.report_on.pop(f.id, None)  # refused and then late: it climbs to 督办
                result.extensions_refused += 1
    result.extensions_asked_on = day


def run_demo(out: Path, *, days: int = 30, end: date | None = None, findings: int = 120, seed: int = 19,
             public_url: str = "http://127.0.0.1:8400", on_day: Callable[[date, str], None] | None = None,
             pdf: bool = False) -> DemoResult:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = _write_config(out, public_url)
    settings = load_settings(config)
    rt = build_runtime(settings)
    try:
        start, end = choose_window(rt.calendar, pendulum.now(settings.timezone).date(), days, end)
        result = DemoResult(out=out, config=config, start=start, end=end, days=days,
                            outbox=settings.outbox_path.resolve())
        migrate(rt.engine)
        inspected = rt.calendar.next_working_day(start)
        rt.clock = lambda: _at(rt, inspected, 9)
        inputs = out / "input"
        run_units_import(rt, write_units(inputs))
        _supervisors(rt)
        run_findings_import(rt, write_findings(inputs, inspected, findings), round_name=ROUND)
        plan = _plan_reports(rt, seed)
        texts, contacts, members = _texts(), _unit_contacts(rt), _group_members(rt)
        vendors = DemoVendors()  # IM and SMS answered in process: nothing leaves the machine
        steps = Steps(dispatch=lambda rt, now: dispatch(rt, now, transport=vendors.transport))
        habits = FollowupHabits(random.Random(seed + 1))
        day = start
        while day <= end:
            if rt.calendar.is_working_day(day) and day >= inspected:
                rt.clock = lambda d=day: _at(rt, d, 8)
                report = run_daily(rt, day, _at(rt, day, 8), steps=steps)
                result.mails_by_level.update(report.messages_by_level)
                result.channels_queued.update(report.channels)
                result.channels_sent.update(report.channels_sent)
                _work_day(rt, day, plan, texts, contacts, members, result)
                followup_day(rt, day, habits, texts, contacts, lambda h, m, d=day: _at(rt, d, h, m))
                _extensions(rt, day, plan, texts, contacts, members, result)
                note = f"{report.messages} mails"
            else:
                note = "day off"
            if day.weekday() == 4:  # Friday afternoon: the weekly digest
                run = send_weekly_digest(rt, week_of=day, today=day, now=_at(rt, day, 16))
                result.digests += run.queued
            if on_day:
                on_day(day, note)
            day += timedelta(days=1)
        result.channels_received = Counter(vendors.received)
        _finish(rt, result, pdf=pdf)
        return result
    finally:
        rt.close()


def _finish(rt: Runtime, result: DemoResult, *, pdf: bool) -> None:
    end = result.end
    issued = compile_issue(rt, as_of=end, now=_at(rt, end, 17), pdf=pdf, progress_section=True, ranking=True)
    result.followup = tally(rt)
    result.bulletin, result.bulletin_no = dict(issued.files), issued.issue_no
    result.ledger = result.out / f"整改台账-{end.isoformat()}.xlsx"
    run_ledger_export(rt, result.ledger, as_of=end)
    with rt.sessions() as s:
        rows = s.execute(select(Finding.state, Finding.due_date)).all()
        result.found = len(rows)
        result.closed = sum(st == State.CLOSED for st, _ in rows)
        result.reported = sum(st == State.REPORTED for st, _ in rows)
        result.overdue = sum(is_overdue(st, due, end) for st, due in rows)
        for (meta,) in s.execute(select(OutboxMessage.meta).where(OutboxMessage.kind == "daily",
                                                                  OutboxMessage.channel == "mail")):
            result.mails_by_colour[(meta or {}).get("colour") or "none"] += 1
        result.notices = s.scalar(select(func.count()).select_from(Notice)) or 0
        result.notices_dir = (rt.settings.data_dir / "notices").resolve()
        digest_id = s.scalar(select(func.max(OutboxMessage.id)).where(OutboxMessage.kind == "digest"))
        sup = s.scalar(select(Person).where(Person.role == "supervisor").order_by(Person.id))
        contact = s.scalar(select(Person).where(Person.role == "unit_contact").order_by(Person.id))
    assessed = assess_runtime(rt, start=result.start, end=end)
    result.ranking, result.ranked_units = assessed.top() + assessed.bottom(), len(assessed.ranking)
    result.ranking_xlsx = write_xlsx(assessed, result.out / f"考评排名-{end.isoformat()}.xlsx")
    if digest_id is not None:
        result.digest_eml = next(iter(sorted(rt.settings.outbox_path.glob(f"{digest_id:08d}-*.eml"))), None)
    # Sign-in links for the real clock: the form checks them against today, not the simulated day.
    real_now = pendulum.now(rt.tz)
    age = timedelta(days=rt.settings.web.link_max_age_days)
    for label, person in (("supervisor", sup), ("unit_contact", contact)):
        if person is not None:
            result.links[f"{label} {person.email}"] = login_url(rt.settings.public_url, rt.settings.secret,
                                                                person.id, now=real_now, max_age=age)
