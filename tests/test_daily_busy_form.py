"""The daily run completes while the form is busy (issue 12 item 3): units reporting and supervisors
closing items during the run are not another run. Both databases, a real SMTP sink.

Form activity runs in threads through the same service the form and the API call (`act`), at a steady
rate for the whole run, and once more deterministically between planning and the commit.
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

from sqlalchemy import select

from models import Event, Finding, Person
from rectify.services.daily import PLAIN, Steps, commit_day, run_daily
from rectify.services.findings import SYSTEM, Actor, act
from tests.test_daily_run import DAY, NOW, add, build_county, mail_rt  # noqa: F401  (mail_rt: a fixture)


def _form_acts(rt, fid: int, supervisor_id: int, *, close: bool) -> None:
    """What the form does for one item: a unit reports; a supervisor closes it (each its own request)."""
    with rt.sessions() as s, s.begin():
        act(s, s.get(Finding, fid), "report", SYSTEM, NOW, measures="已完成整改")
    if close:
        with rt.sessions() as s, s.begin():
            who = Actor.of(s.get(Person, supervisor_id))
            act(s, s.get(Finding, fid), "verify", who, NOW + timedelta(hours=1))


def test_it_completes_the_day_while_units_report_and_supervisors_close(mail_rt, smtp_sink) -> None:  # noqa: F811
    county = build_county(mail_rt)
    overdue = [add(mail_rt, county, unit, DAY - timedelta(days=d)) for d in (8, 12, 20) for unit in ("fin", "edu")
               for _ in range(4)]
    background = [add(mail_rt, county, "fin", date(2024, 3, 1)) for _ in range(30)]
    errors: list[BaseException] = []
    done = threading.Event()
    acted: list[int] = []

    def form() -> None:  # a steady stream of form requests for the whole run
        for i, fid in enumerate(background):
            if done.is_set():
                break
            try:
                _form_acts(mail_rt, fid, county["sup1"], close=i % 2 == 0)
                acted.append(fid)
            except BaseException as exc:  # any failure of a form request is what this test looks for
                errors.append(exc)
            time.sleep(0.005)

    between = overdue[::5]  # items the plan escalates, reported or closed between the plan and the commit

    pending_acts = list(enumerate(between))

    def commit(rt, day, queued):
        while pending_acts:
            i, fid = pending_acts.pop()
            _form_acts(rt, fid, county["sup2"], close=i % 2 == 0)
        return commit_day(rt, day, queued)

    worker = threading.Thread(target=form)
    worker.start()
    try:
        report = run_daily(mail_rt, DAY, NOW, steps=Steps(**{**PLAIN.__dict__, "commit": commit}))
    finally:
        done.set()
        worker.join(30)
    assert errors == [] and acted  # no form request failed, none was locked out
    assert report.attempts == 1 and report.sent == report.messages > 0 and not report.pending
    assert sum(report.escalations.values()) == len(overdue)
    with mail_rt.sessions() as s:
        states = dict(s.execute(select(Finding.id, Finding.state).where(Finding.id.in_(between))).all())
        escalated = set(s.scalars(select(Event.finding_id).where(Event.kind == "escalate")))
    assert set(states.values()) == {"reported", "closed"}  # the form's changes stand
    assert set(overdue) <= escalated  # and so do the run's
