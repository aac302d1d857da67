"""The daily run end to end on SQLite and PostgreSQL, mailing through a real SMTP server (aiosmtpd).

Dates are 2024 working days; Spring Festival 2024 is Feb 10-17, with 调休 working Sundays Feb 4 and 18.
"""

from __future__ import annotations

import email
import re
from datetime import UTC, date, datetime, timedelta
from email.policy import default
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from models import Event, Finding, OutboxMessage, Person, Round, SupervisionGroup, Unit
from rectify.links import verify
from rectify.runtime import build_runtime
from rectify.services.daily import (
    PLAIN,
    RunConflict,
    Spool,
    commit_day,
    plan_day,
    render_day,
    render_letters,
    run_daily,
)
from tests.support import factory

NOW = datetime(2024, 1, 31, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
DAY = date(2024, 1, 31)  # a Wednesday


def at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 0, 30, tzinfo=UTC)


@pytest.fixture
def mail_rt(smtp_settings):
    runtime = build_runtime(smtp_settings)
    yield runtime
    runtime.close()


def person(s, name: str, email: str | None, role: str, *, unit=None, group=None) -> Person:
    p = Person(name=name, email=email, role=role, unit_id=unit.id if unit else None,
               group_id=group.id if group else None)
    s.add(p)
    s.flush()
    return p


@pytest.fixture
def county(mail_rt):
    """Two county departments and a township, one supervision group of two."""
    return build_county(mail_rt)


def build_county(rt) -> dict[str, int]:
    with rt.sessions() as s, s.begin():
        g = factory.group(s, "第一督导组", members=0)
        r = factory.round_(s)
        fin = factory.unit(s, "县财政局", contact=None, leader=None)
        edu = factory.unit(s, "县教育局", contact=None, leader=None)
        town = factory.unit(s, "城关镇", kind="township", contact=None, leader=None)
        ids = {
            "fin_contact": person(s, "张三", "zhang@fin.example", "unit_contact", unit=fin).id,
            "fin_leader": person(s, "赵局长", "zhao@fin.example", "unit_leader", unit=fin).id,
            "edu_contact": person(s, "李四", "li@edu.example", "unit_contact", unit=edu).id,
            "edu_leader": person(s, "钱局长", "qian@edu.example", "unit_leader", unit=edu).id,
            "sup1": person(s, "孙督导", "sun@group.example", "supervisor", group=g).id,
            "sup2": person(s, "周督导", "zhou@group.example", "supervisor", group=g).id,
        }
        ids.update(group=g.id, round=r.id, fin=fin.id, edu=edu.id, town=town.id)
    return ids


def add(rt, county, unit: str, due: date | None, **kw) -> int:
    with rt.sessions() as s, s.begin():
        f = factory.finding(s, unit=s.get(Unit, county[unit]), round=s.get(Round, county["round"]),
                            group=s.get(SupervisionGroup, county["group"]), due=due, **kw)
        return f.id


def subjects(sink) -> dict[str, list[str]]:
    return {to: [str(m["Subject"]) for m in msgs] for to, msgs in sink.by_recipient().items()}


def level_of(rt, fid: int) -> int:
    with rt.sessions() as s:
        return s.get(Finding, fid).level


def count(rt, model, *where) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_it_mails_one_letter_per_person_with_escaped_text_and_verifiable_links(mail_rt, county, smtp_sink) -> None:
    due_today = add(mail_rt, county, "fin", DAY, problem="<script>alert(1)</script>未公开执法信息")
    late = add(mail_rt, county, "fin", date(2024, 1, 22))  # 7 working days late: 督办
    soon = add(mail_rt, county, "edu", date(2024, 2, 4))  # three working days ahead (Feb 4 is a 调休 Sunday)

    report = run_daily(mail_rt, DAY, NOW)

    assert report.sent == 5 and report.failed == [] and report.pending == []
    assert subjects(smtp_sink) == {
        "zhang@fin.example": ["【红色预警】【整改督办】县财政局：2项整改任务待办理，其中1项逾期未完成，现予督办"],
        "zhao@fin.example": ["【红色预警】【整改督办】县财政局：1项整改任务逾期未完成，现予督办"],
        "sun@group.example": ["【红色预警】【整改督办】县财政局：1项整改任务逾期未完成，现予督办"],  # one unit: named
        "zhou@group.example": ["【红色预警】【整改督办】县财政局：1项整改任务逾期未完成，现予督办"],
        "li@edu.example": ["【蓝色预警】【整改提醒】县教育局：1项整改任务将于2月4日到期"],
    }
    raw = next(r.data for r in smtp_sink.received if r.rcpt == ["zhang@fin.example"])
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # the headers are ASCII: no raw UTF-8 in a header
    assert "=?utf-8?" in head.lower()  # the Chinese subject is RFC 2047-encoded on the wire

    msg = smtp_sink.by_recipient()["zhang@fin.example"][0]
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "<script>alert(1)</script>未公开执法信息" in text  # plain text carries it as typed
    assert html.index(">已逾期7个工作日<") < html.index(">今日到期<")  # most urgent first

    links = re.findall(r'href="([^"]+)"', html)
    assert len(links) == 2
    for url in links:
        parts = urlsplit(url.replace("&amp;", "&"))
        token = parts.path.rsplit("/", 1)[1]
        assert verify(mail_rt.settings.secret, token, now=NOW + timedelta(days=1)) == county["fin_contact"]
    assert {parse_qs(urlsplit(u).query)["next"][0] for u in links} == {f"/findings/{late}", f"/findings/{due_today}"}
    assert f"/findings/{soon}" in smtp_sink.by_recipient()["li@edu.example"][0].get_body(("plain",)).get_content()


def test_it_lists_items_per_unit_for_the_group_and_the_command_office(mail_rt, county, smtp_sink) -> None:
    add(mail_rt, county, "fin", date(2024, 1, 16))  # 11 working days late: 通报
    add(mail_rt, county, "edu", date(2024, 1, 23))  # 6 late: 督办
    run_daily(mail_rt, DAY, NOW)
    got = smtp_sink.by_recipient()
    assert [str(m["Subject"]) for m in got["sun@group.example"]] == [
        "【红色预警】【整改通报】第一督导组：2个单位2项整改任务逾期未完成，拟予通报"]
    assert [str(m["Subject"]) for m in got["office@county.example"]] == [
        "【红色预警】【整改通报】县财政局：1项整改任务逾期未完成，拟予通报"]
    html = got["sun@group.example"][0].get_body(("html",)).get_content()
    assert html.index("（一）县财政局（1项）") < html.index("（二）县教育局（1项）")  # per unit, most urgent first
    assert html.count(">通报<") >= 2 and ">督办<" in html  # the per-unit table and the level column


def test_it_lists_at_most_a_few_hundred_items_and_counts_the_rest(mail_rt, county, smtp_sink) -> None:
    from rectify.services.daily import LIST_LIMIT

    with mail_rt.sessions() as s, s.begin():
        unit, rnd, grp = s.get(Unit, county["fin"]), s.get(Round, county["round"]), s.get(SupervisionGroup,
                                                                                             county["group"])
        for _ in range(LIST_LIMIT + 5):
            factory.finding(s, unit=unit, round=rnd, group=grp, due=DAY)
    report = run_daily(mail_rt, DAY, NOW)
    assert report.items == LIST_LIMIT + 5
    text = smtp_sink.by_recipient()["zhang@fin.example"][0].get_body(("plain",)).get_content()
    assert text.count("整改时限：") == LIST_LIMIT and "另有5项未逐项列出" in text


def test_it_records_each_escalation_with_its_step_and_bumps_version(mail_rt, county, smtp_sink) -> None:
    fid = add(mail_rt, county, "fin", date(2024, 1, 22))
    run_daily(mail_rt, DAY, NOW)
    with mail_rt.sessions() as s:
        f = s.get(Finding, fid)
        assert (f.level, f.version) == (4, 1)  # the run leaves the form's optimistic lock alone
        ev = s.scalars(select(Event).where(Event.finding_id == fid, Event.kind == "escalate")).one()
    assert ev.kind == "escalate" and ev.actor == "system" and ev.at == NOW
    assert ev.data == {"step": "supervise", "kind": "supervise", "level": 4, "from_level": 0, "days": 7,
                       "to": ["zhang@fin.example", "zhao@fin.example", "sun@group.example", "zhou@group.example"]}


def test_it_escalates_many_findings_to_one_level_in_one_statement_batch(mail_rt, county, smtp_sink) -> None:
    late = [add(mail_rt, county, u, date(2024, 1, 30)) for u in ("fin", "fin", "edu", "edu", "edu")]
    with mail_rt.sessions() as s, s.begin():  # one of them was closed meanwhile: it must not move
        s.get(Finding, late[0]).state = "closed"
    report = run_daily(mail_rt, DAY, NOW)
    assert report.escalations == {"urge": 4}
    assert [level_of(mail_rt, f) for f in late] == [0, 3, 3, 3, 3]
    assert {str(m["Subject"]) for m in smtp_sink.by_recipient()["li@edu.example"]} == {
        "【黄色预警】【整改催办】县教育局：3项整改任务已逾期"}


def test_it_sends_nothing_more_on_a_second_run_the_same_day(mail_rt, county, smtp_sink) -> None:
    add(mail_rt, county, "fin", date(2024, 1, 22))
    first = run_daily(mail_rt, DAY, NOW)
    second = run_daily(mail_rt, DAY, NOW + timedelta(hours=2))
    assert first.sent == 4 and second.messages == 0 and second.sent == 0
    assert len(smtp_sink.received) == 4
    assert count(mail_rt, Event, Event.kind == "escalate") == 1 and count(mail_rt, Event, Event.kind == "notice") == 1


def test_it_loses_nothing_when_stopped_between_queueing_and_sending(mail_rt, county, smtp_sink) -> None:
    a = add(mail_rt, county, "fin", date(2024, 1, 22))
    b = add(mail_rt, county, "edu", DAY)
    stopped = run_daily(mail_rt, DAY, NOW, send=False)  # the run dies right after its commit
    assert stopped.messages == 5 and not stopped.delivered and smtp_sink.received == []
    assert count(mail_rt, OutboxMessage, OutboxMessage.state == "pending") == 5
    assert (level_of(mail_rt, a), level_of(mail_rt, b)) == (4, 2)

    rerun = run_daily(mail_rt, DAY, NOW + timedelta(minutes=20))
    assert rerun.messages == 0 and rerun.escalations == {} and rerun.sent == 5
    assert sorted(len(v) for v in smtp_sink.by_recipient().values()) == [1] * 5
    assert run_daily(mail_rt, DAY, NOW + timedelta(minutes=40)).sent == 0
    assert count(mail_rt, Event, Event.kind == "escalate") == 2 and len(smtp_sink.received) == 5


def test_it_keeps_mail_through_an_smtp_outage_and_delivers_each_once_after(mail_rt, county, smtp_sink) -> None:
    add(mail_rt, county, "fin", date(2024, 1, 22))
    smtp_sink.stop()
    down = run_daily(mail_rt, DAY, NOW)
    assert down.messages == 4 and down.sent == 0 and len(down.pending) == 4 and down.failed == []
    assert all(p["error"] for p in down.pending)
    with mail_rt.sessions() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        assert {r.state for r in rows} == {"pending"} and all(r.last_error for r in rows)
    smtp_sink.start()
    up = run_daily(mail_rt, DAY, NOW + timedelta(hours=1))
    assert up.sent == 4 and up.messages == 0
    assert sorted(len(v) for v in smtp_sink.by_recipient().values()) == [1] * 4


def test_it_sends_nothing_over_spring_festival_and_catches_up_on_the_first_working_day(
        mail_rt, county, smtp_sink) -> None:
    before = add(mail_rt, county, "fin", date(2024, 2, 9), level=2)  # due the last day before the holiday
    after = add(mail_rt, county, "fin", date(2024, 2, 19))  # imported over the holiday, not yet reminded
    for d in (date(2024, 2, 10), date(2024, 2, 12), date(2024, 2, 17)):
        off = run_daily(mail_rt, d, at(d))
        assert not off.working_day and off.messages == 0
    assert smtp_sink.received == [] and count(mail_rt, Event) == 0

    back = run_daily(mail_rt, date(2024, 2, 18), at(date(2024, 2, 18)))  # 调休: a working Sunday
    assert back.escalations == {"urge": 1, "remind": 1}
    assert (level_of(mail_rt, before), level_of(mail_rt, after)) == (3, 1)
    assert subjects(smtp_sink)["zhang@fin.example"] == [
        "【黄色预警】【整改催办】县财政局：2项整改任务待办理，其中1项已逾期"]


def test_it_gives_a_late_import_only_its_highest_level(mail_rt, county, smtp_sink) -> None:
    fid = add(mail_rt, county, "fin", date(2024, 1, 10))  # 15 working days late, never reminded
    report = run_daily(mail_rt, DAY, NOW)
    assert report.escalations == {"notify": 1}
    with mail_rt.sessions() as s:
        events = s.scalars(select(Event).where(Event.finding_id == fid, Event.kind == "escalate")).all()
    assert [(e.data["from_level"], e.data["level"], e.data["kind"]) for e in events] == [(0, 5, "notify")]
    office = smtp_sink.by_recipient()["office@county.example"]
    assert [str(m["Subject"]) for m in office] == ["【红色预警】【整改通报】县财政局：1项整改任务逾期未完成，拟予通报"]
    body = office[0].get_body(("plain",)).get_content()
    assert body.count("T-") == 1 and "/auth/" not in body  # the office address has no account: plain links


def test_it_reports_unreachable_units_and_holds_what_nobody_can_receive(mail_rt, county, smtp_sink) -> None:
    held = add(mail_rt, county, "town", DAY)  # the township has no contact at all
    with mail_rt.sessions() as s, s.begin():
        s.get(Person, county["edu_leader"]).email = None
    partly = add(mail_rt, county, "edu", date(2024, 1, 30))  # 催办: contact reachable, leader not

    report = run_daily(mail_rt, DAY, NOW)
    assert {(u["audience"], u["reason"], u["unit"], u["findings"]) for u in report.unreachable} == {
        ("unit_contact", "no_person", "城关镇", 1), ("unit_leader", "no_email", "县教育局", 1)}
    assert report.held == 1 and level_of(mail_rt, held) == 0 and level_of(mail_rt, partly) == 3
    assert sorted(smtp_sink.by_recipient()) == ["li@edu.example"]

    with mail_rt.sessions() as s, s.begin():  # the directory is fixed; the next working day catches up
        person(s, "吴镇长", "wu@town.example", "unit_contact", unit=s.get(Unit, county["town"]))
    nxt = run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1)))
    assert nxt.escalations == {"urge": 1} and level_of(mail_rt, held) == 3
    assert "wu@town.example" in smtp_sink.by_recipient()


def test_it_sends_long_term_reviews_to_the_contact_and_stamps_the_review(mail_rt, county, smtp_sink) -> None:
    fid = add(mail_rt, county, "fin", None, kind="long_term", inspected=date(2023, 12, 1))
    report = run_daily(mail_rt, DAY, NOW)
    assert report.reviews == 1 and report.escalations == {}
    with mail_rt.sessions() as s:
        f = s.get(Finding, fid)
        assert (f.last_review_on, f.level, f.version) == (DAY, 0, 1)
        assert s.scalars(select(Event.kind).where(Event.finding_id == fid)).all() == ["review_request"]
    assert subjects(smtp_sink) == {
        "zhang@fin.example": ["【长期整改复查】县财政局：1项长期整改任务请报送阶段性整改进展"]}
    assert run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1))).reviews == 0  # next one in 20 working days


def test_it_defers_a_new_item_for_someone_already_mailed_today_to_the_next_working_day(
        mail_rt, county, smtp_sink) -> None:
    add(mail_rt, county, "fin", date(2024, 1, 22))
    run_daily(mail_rt, DAY, NOW)
    late_comer = add(mail_rt, county, "fin", DAY)  # imported at noon, due today
    again = run_daily(mail_rt, DAY, NOW + timedelta(hours=4))
    assert again.deferred == 1 and again.messages == 0 and level_of(mail_rt, late_comer) == 0
    nxt = run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1)))
    assert nxt.escalations == {"urge": 1} and level_of(mail_rt, late_comer) == 3
    assert len(smtp_sink.by_recipient()["zhang@fin.example"]) == 2  # one letter per day


def test_it_never_escalates_twice_when_two_runs_race(mail_rt, county, smtp_sink) -> None:
    fid = add(mail_rt, county, "fin", date(2024, 1, 22))
    mine, theirs = plan_day(mail_rt, DAY, NOW), plan_day(mail_rt, DAY, NOW)  # both saw level 0
    commit_day(mail_rt, theirs, render_letters(mail_rt, theirs, theirs.letters))
    with pytest.raises(RunConflict):
        commit_day(mail_rt, mine, render_letters(mail_rt, mine, mine.letters))
    assert level_of(mail_rt, fid) == 4 and count(mail_rt, Event) == 1 and count(mail_rt, OutboxMessage) == 4
    assert run_daily(mail_rt, DAY, NOW).sent == 4 and len(smtp_sink.received) == 4


def test_it_writes_nothing_on_a_dry_run(mail_rt, county, smtp_sink) -> None:
    fid = add(mail_rt, county, "fin", date(2024, 1, 22))
    report = run_daily(mail_rt, DAY, NOW, dry_run=True)
    assert report.dry_run and report.messages == 4
    assert {x["to"] for x in report.letters} == {"zhang@fin.example", "zhao@fin.example", "sun@group.example",
                                                 "zhou@group.example"}
    assert level_of(mail_rt, fid) == 0 and count(mail_rt, Event) == 0 and count(mail_rt, OutboxMessage) == 0
    assert smtp_sink.received == []


def test_it_sums_units_past_the_table_limit_into_one_row() -> None:
    from rectify.core.ladder import PlannedAction
    from rectify.core.routing import Directory, Item, Letter
    from rectify.services.daily import UNIT_TABLE_LIMIT, _per_unit

    n = UNIT_TABLE_LIMIT + 5
    d = Directory(units={u: f"单位{u}" for u in range(1, n + 1)}, contacts={}, leaders={}, groups={}, members={},
                  unit_rank={u: u for u in range(1, n + 1)})
    letter = Letter("office@county.example", "", None, roles={"command_office"})
    letter.items = [Item(PlannedAction(u, "urge", 3, None, 1), u, None) for u in range(1, n + 1)]
    letter.items.append(Item(PlannedAction(n + 1, "notify", 5, None, 10), n, None))  # the last unit is the worst
    rows, rest = _per_unit(letter, d)
    assert len(rows) == UNIT_TABLE_LIMIT and rows[-1]["unit"] == f"单位{n}"  # kept; rows in display order
    assert rest == {"units": 5, "counts": {"urge": 5}, "total": 5}
    assert sum(r["total"] for r in rows) + rest["total"] == len(letter.items)


def test_it_tells_the_new_unit_once_when_a_finding_is_reassigned(mail_rt, county, smtp_sink) -> None:
    from rectify.services.findings import SYSTEM
    from rectify.services.practice import reassign

    fid = add(mail_rt, county, "fin", date(2024, 2, 20))  # not due for weeks: no ladder step today
    with mail_rt.sessions() as s, s.begin():
        reassign(s, s.get(Finding, fid), s.get(Unit, county["edu"]), SYSTEM, NOW, reason="职责调整")
    report = run_daily(mail_rt, DAY, NOW)
    assert report.handovers == 1 and report.escalations == {}
    assert subjects(smtp_sink) == {"li@edu.example": ["【整改移交】县教育局：1项整改任务调整由本单位负责，请及时接办"]}
    assert "还有" in smtp_sink.by_recipient()["li@edu.example"][0].get_body(("plain",)).get_content()
    with mail_rt.sessions() as s:
        f = s.get(Finding, fid)
        assert not f.handover_pending and f.level == 0
        ev = s.scalars(select(Event).where(Event.finding_id == fid, Event.kind == "handover_notice")).one()
    assert ev.data["to"] == ["li@edu.example"]
    assert run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1))).handovers == 0  # told once


def test_it_renders_the_same_letters_in_worker_processes_as_in_one(mail_rt, county, smtp_sink) -> None:
    for k in range(6):
        add(mail_rt, county, ("fin", "edu", "town")[k % 3], date(2024, 1, 16 + k), problem=f"问题{k}<b>")
    day = plan_day(mail_rt, DAY, NOW)
    assert len(day.letters) >= 4
    got = {}
    for processes in (1, 2):
        spool = Spool()
        render_day(mail_rt, day, PLAIN, spool, chunk=2, processes=processes)
        got[processes] = [(q.recipient, q.subject, q.items, email.message_from_bytes(q.message, policy=default)
                           .get_body(("plain",)).get_content()) for q in spool]
        spool.close()
    assert got[2] == got[1] and [g[0] for g in got[1]] == [letter.email for letter in day.letters]


def test_it_tells_the_new_unit_of_a_reassigned_finding_already_reported(mail_rt, county, smtp_sink) -> None:
    # The scan reads reported findings only when they owe an ask (rectify.services.daily.followup.relevant_clause):
    # a handover is one.
    from rectify.services.findings import SYSTEM
    from rectify.services.practice import reassign

    fid = add(mail_rt, county, "fin", date(2024, 2, 20))
    quiet = add(mail_rt, county, "fin", date(2024, 1, 22))  # reported and owing nothing: not listed, not raised
    with mail_rt.sessions() as s, s.begin():
        reassign(s, s.get(Finding, fid), s.get(Unit, county["edu"]), SYSTEM, NOW, reason="职责调整")
        for f in (s.get(Finding, fid), s.get(Finding, quiet)):
            f.state = "reported"  # the unit had already reported it done, waiting for the supervisor's check
    report = run_daily(mail_rt, DAY, NOW)
    assert report.handovers == 1 and report.escalations == {}
    assert subjects(smtp_sink) == {"li@edu.example": ["【整改移交】县教育局：1项整改任务调整由本单位负责，请及时接办"]}
    assert level_of(mail_rt, quiet) == 0
