"""Another run commits between this run's plan and its commit: the run re-plans only the findings the other
run changed, keeps the letters that did not change, and completes the day. SQLite and PostgreSQL, real SMTP.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models import Event, Finding, OutboxMessage
from rectify.runtime import build_runtime
from rectify.services.daily import (
    Steps,
    commit_day,
    issue_day_notices,
    plan_day,
    render_letters,
    run_daily,
)
from tests.test_daily_run import DAY, NOW, add, build_county, count


@pytest.fixture
def mail_rt(smtp_settings):
    runtime = build_runtime(smtp_settings)
    yield runtime
    runtime.close()


def other_run(rt):
    """A real run of the day, planned now and committed later (when `commit` is called)."""
    theirs = plan_day(rt, DAY, NOW)
    theirs.notices = issue_day_notices(rt, theirs)
    rows = render_letters(rt, theirs, theirs.letters)
    return lambda: commit_day(rt, theirs, rows)


def racing_steps(commit_theirs, rendered: list[list[str]]) -> Steps:
    """This run's steps: the other run commits just before this run's first commit; renders are counted."""
    pending = [commit_theirs]

    def commit(rt, day, queued):
        while pending:
            pending.pop()()
        return commit_day(rt, day, queued)

    def render(rt, day, letters):
        rendered.append(sorted(lt.email for lt in letters))
        return render_letters(rt, day, letters)

    return Steps(commit=commit, render=render)


def escalations_of(rt, fid: int) -> list[dict]:
    with rt.sessions() as s:
        return list(s.scalars(select(Event.data).where(Event.finding_id == fid, Event.kind == "escalate")))


def test_it_replans_only_what_another_run_escalated_between_plan_and_commit(mail_rt, smtp_sink) -> None:
    county = build_county(mail_rt)
    late = add(mail_rt, county, "fin", date(2024, 1, 22))  # 督办 today: 张三, 赵局长 and both supervisors
    theirs = other_run(mail_rt)  # planned before the next two findings were imported
    due_today = add(mail_rt, county, "fin", DAY)  # 提醒 to 张三, who gets the other run's letter first
    soon = add(mail_rt, county, "edu", date(2024, 2, 4))  # 提醒 to 李四 only: untouched by the other run
    rendered: list[list[str]] = []

    report = run_daily(mail_rt, DAY, NOW, steps=racing_steps(theirs, rendered))

    assert report.conflict == "" and report.attempts == 2  # the day completed on the second commit
    assert report.replanned == 1  # just the finding the other run escalated, not the day
    assert rendered == [["li@edu.example", "sun@group.example", "zhang@fin.example", "zhao@fin.example",
                         "zhou@group.example"]]  # 李四's letter was kept, nothing re-rendered
    assert report.rerendered == 0 and report.deferred == 1 and report.escalations == {"remind": 1}
    with mail_rt.sessions() as s:
        levels = dict(s.execute(select(Finding.id, Finding.level)).all())
    assert len(escalations_of(mail_rt, late)) == 1 and levels[late] == 4  # escalated once, by the other run
    assert escalations_of(mail_rt, due_today) == [] and levels[due_today] == 0  # waits: 张三 had today's letter
    assert [e["kind"] for e in escalations_of(mail_rt, soon)] == ["remind"]
    got = {to: len(msgs) for to, msgs in smtp_sink.by_recipient().items()}
    assert got == dict.fromkeys(["zhang@fin.example", "zhao@fin.example", "sun@group.example",
                                 "zhou@group.example", "li@edu.example"], 1)  # one letter each, none twice
    assert count(mail_rt, OutboxMessage) == 5 and report.sent == 5
    li = smtp_sink.by_recipient()["li@edu.example"][0]
    assert "县教育局" in str(li["Subject"])

    nxt = run_daily(mail_rt, date(2024, 2, 1), NOW.replace(day=1, month=2))  # the deferred item goes next day
    assert [e["kind"] for e in escalations_of(mail_rt, due_today)] == ["urge"]
    assert nxt.conflict == "" and len(smtp_sink.by_recipient()["zhang@fin.example"]) == 2


def test_it_completes_the_day_when_another_run_did_all_of_it_first(mail_rt, smtp_sink) -> None:
    county = build_county(mail_rt)
    late = add(mail_rt, county, "fin", date(2024, 1, 22))
    soon = add(mail_rt, county, "edu", date(2024, 2, 4))
    theirs = other_run(mail_rt)  # the whole day, committed between this run's plan and commit
    rendered: list[list[str]] = []

    report = run_daily(mail_rt, DAY, NOW, steps=racing_steps(theirs, rendered))

    assert report.conflict == "" and report.replanned == 2 and report.messages == 0 and report.escalations == {}
    assert len(rendered) == 1  # the re-plan rendered nothing
    assert [len(escalations_of(mail_rt, f)) for f in (late, soon)] == [1, 1]
    assert {to: len(m) for to, m in smtp_sink.by_recipient().items()} == dict.fromkeys(
        ["zhang@fin.example", "zhao@fin.example", "sun@group.example", "zhou@group.example", "li@edu.example"], 1)
    assert count(mail_rt, OutboxMessage) == 5


def test_it_keeps_the_conflicting_findings_across_a_task_boundary() -> None:
    import pickle

    from rectify.services.daily import RunConflict

    got = pickle.loads(pickle.dumps(RunConflict("lost a race", {3, 1})))  # Prefect may serialise a task's error
    assert isinstance(got, RunConflict) and got.findings == {1, 3} and str(got) == "lost a race"
