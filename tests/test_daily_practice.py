"""Supervision practice in the daily run (issue 8): colour prefixes, 回头看 to the closer, the unit head's
sign-off requests and 督办通知 attached to the unit's letters. Real aiosmtpd, SQLite and PostgreSQL.

2024 calendar: Spring Festival Feb 10-17 are days off, Sunday Feb 18 is a 调休 working day.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from docx import Document
from sqlalchemy import select

from models import Event, Finding, Notice, OutboxMessage, Person, Round, Unit
from rectify.links import verify
from rectify.runtime import build_runtime
from rectify.services import practice
from rectify.services.daily import run_daily
from rectify.services.findings import SYSTEM, Actor, act
from tests.support.practice import at as local_at
from tests.test_daily_run import DAY, NOW, add, at, build_county, count, level_of, subjects

SUPERVISE_LATE = date(2024, 1, 22)  # 7 working days before DAY: 督办


@pytest.fixture
def mail_rt(smtp_settings):
    """Mail to the sink; 回头看 three working days after closing, so a test can span the holiday."""
    settings = smtp_settings.model_copy(update={"supervision": smtp_settings.supervision.model_copy(
        update={"recheck_working_days": 3})})
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def county(mail_rt):
    return build_county(mail_rt)


def actor(rt, person_id: int) -> Actor:
    with rt.sessions() as s:
        return Actor.of(s.get(Person, person_id))


def close_by(rt, fid: int, person_id: int, day: date) -> None:
    who = actor(rt, person_id)
    with rt.sessions() as s, s.begin():
        f = s.get(Finding, fid)
        act(s, f, "report", SYSTEM, local_at(day, 9), measures="已整改")
        act(s, f, "verify", who, local_at(day, 16))


def bodies(msg) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def signed_for(rt, url: str, when) -> tuple[int, str]:
    parts = urlsplit(url.replace("&amp;", "&"))
    return verify(rt.settings.secret, parts.path.rsplit("/", 1)[1], now=when), parse_qs(parts.query)["next"][0]


def test_it_prefixes_each_subject_with_the_worst_colour_and_shows_each_items_colour(mail_rt, county,
                                                                                     smtp_sink) -> None:
    add(mail_rt, county, "fin", SUPERVISE_LATE)  # 督办: red
    add(mail_rt, county, "fin", DAY)  # due today: blue, but the letter's worst is red
    add(mail_rt, county, "edu", date(2024, 1, 30))  # one day late, 催办: yellow
    moved = add(mail_rt, county, "fin", date(2024, 3, 29))  # far off: no colour
    with mail_rt.sessions() as s, s.begin():
        practice.reassign(s, s.get(Finding, moved), s.get(Unit, county["town"]), SYSTEM, NOW, reason="职责调整")
        s.add(Person(name="吴镇长", email="wu@town.example", role="unit_contact", unit_id=county["town"]))

    run_daily(mail_rt, DAY, NOW)
    got = subjects(smtp_sink)
    assert got["zhang@fin.example"] == [
        "【红色预警】【整改督办】县财政局：2项整改任务待办理，其中1项逾期未完成，现予督办"]
    assert got["li@edu.example"] == ["【黄色预警】【整改催办】县教育局：1项整改任务已逾期"]
    assert got["wu@town.example"] == ["【整改移交】城关镇：1项整改任务调整由本单位负责，请及时接办"]  # no colour
    text, html = bodies(smtp_sink.by_recipient()["zhang@fin.example"][0])
    assert "【红色预警】T-" in text and "【蓝色预警】T-" in text  # in words, not by colour alone
    assert re.search(r"color:#c00000;font-weight:bold\">红色预警<", html) and ">蓝色预警<" in html
    with mail_rt.sessions() as s:
        assert {m.meta.get("colour") for m in s.scalars(select(OutboxMessage))} == {"red", "yellow", None}


def test_it_sends_the_recheck_to_the_closer_on_the_working_day_it_falls_due_once(mail_rt, county,
                                                                                 smtp_sink) -> None:
    closed = add(mail_rt, county, "fin", date(2024, 2, 9))
    gone = add(mail_rt, county, "edu", date(2024, 2, 9))
    imported = add(mail_rt, county, "edu", date(2024, 2, 9))
    close_by(mail_rt, closed, county["sup1"], date(2024, 2, 7))  # due 3 working days on: Feb 8, 9, then 18 (调休)
    close_by(mail_rt, gone, county["sup2"], date(2024, 2, 7))
    with mail_rt.sessions() as s, s.begin():
        act(s, s.get(Finding, imported), "report", SYSTEM, local_at(date(2024, 2, 7)))
        act(s, s.get(Finding, imported), "verify", SYSTEM, local_at(date(2024, 2, 7), 16))  # no closer: no mail
        s.get(Person, county["sup2"]).active = False  # sup2 left: the group is asked instead

    assert run_daily(mail_rt, date(2024, 2, 9), at(date(2024, 2, 9))).rechecks == 0
    assert run_daily(mail_rt, date(2024, 2, 17), at(date(2024, 2, 17))).messages == 0  # a holiday
    due_day = date(2024, 2, 18)
    report = run_daily(mail_rt, due_day, at(due_day))
    assert report.rechecks == 2 and report.escalations == {}
    got = subjects(smtp_sink)
    assert got == {"sun@group.example": ["【回头看】第一督导组：2个单位2项已销号整改任务到期回头看，请核实整改成效"]}
    text, html = bodies(smtp_sink.by_recipient()["sun@group.example"][0])
    assert "2月7日销号，请回头看" in text and "实地核实整改成效" in text
    links = re.findall(r'href="([^"]+/auth/[^"]+)"', html)
    assert {signed_for(mail_rt, u, at(due_day)) for u in links} == {
        (county["sup1"], f"/findings/{closed}"), (county["sup1"], f"/findings/{gone}")}
    with mail_rt.sessions() as s:
        assert s.get(Finding, closed).recheck_notified_on == due_day
        assert s.get(Finding, imported).recheck_notified_on is None
        ev = s.scalars(select(Event).where(Event.finding_id == closed, Event.kind == "recheck_request")).one()
    assert ev.data == {"kind": "recheck", "closed_on": "2024-02-07", "to": ["sun@group.example"]}

    assert run_daily(mail_rt, due_day, at(due_day) + timedelta(hours=3)).messages == 0  # same day: nothing
    assert run_daily(mail_rt, date(2024, 2, 19), at(date(2024, 2, 19))).rechecks == 0  # told once
    assert len(smtp_sink.received) == 1


def test_it_stops_after_an_answer_and_a_reopened_finding_climbs_the_ladder_from_its_new_deadline(
        mail_rt, county, smtp_sink) -> None:
    kept, back = add(mail_rt, county, "fin", DAY), add(mail_rt, county, "fin", DAY)
    for fid in (kept, back):
        close_by(mail_rt, fid, county["sup1"], date(2024, 1, 29))  # due Feb 1
    sup = actor(mail_rt, county["sup1"])
    with mail_rt.sessions() as s, s.begin():  # answered early, from the form's list (?recheck=1)
        practice.confirm_recheck(s, s.get(Finding, kept), sup, local_at(date(2024, 1, 31)))
    assert run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1))).rechecks == 1  # only the other one
    with mail_rt.sessions() as s, s.begin():
        practice.reopen(s, s.get(Finding, back), sup, local_at(date(2024, 2, 2)), reason="回头看发现问题反弹",
                        new_due=date(2024, 2, 23))
    quiet = run_daily(mail_rt, date(2024, 2, 5), at(date(2024, 2, 5)))  # reopened: open, not yet near its date
    assert quiet.rechecks == 0 and quiet.escalations == {} and level_of(mail_rt, back) == 0
    remind = run_daily(mail_rt, date(2024, 2, 20), at(date(2024, 2, 20)))  # three working days before Feb 23
    assert remind.escalations == {"remind": 1} and level_of(mail_rt, back) == 1
    assert subjects(smtp_sink)["zhang@fin.example"] == ["【蓝色预警】【整改提醒】县财政局：1项整改任务将于2月23日到期"]


def test_it_asks_the_unit_head_to_sign_off_once_per_report(mail_rt, county, smtp_sink) -> None:
    with mail_rt.sessions() as s, s.begin():
        s.get(Round, county["round"]).two_level_closure = True
    fid = add(mail_rt, county, "fin", date(2024, 2, 20))
    with mail_rt.sessions() as s, s.begin():
        act(s, s.get(Finding, fid), "report", actor(mail_rt, county["fin_contact"]), local_at(date(2024, 1, 30)),
            measures="已完成整改")

    first = run_daily(mail_rt, DAY, NOW)
    assert first.signoffs == 1 and first.messages == 1
    assert subjects(smtp_sink) == {
        "zhao@fin.example": ["【待签字确认】县财政局：1项整改情况已报送，请主要负责人审核签字"]}
    text, html = bodies(smtp_sink.by_recipient()["zhao@fin.example"][0])
    assert "已报送，待签字确认" in text and "主要负责人审核签字后" in text
    (url,) = re.findall(r'href="([^"]+)"', html)
    assert signed_for(mail_rt, url, NOW + timedelta(days=3)) == (county["fin_leader"], f"/findings/{fid}")
    assert run_daily(mail_rt, date(2024, 2, 1), at(date(2024, 2, 1))).signoffs == 0  # still pending: not again

    with mail_rt.sessions() as s, s.begin():  # sent back, reported again: a new report, a new request
        sup = Actor.of(s.get(Person, county["sup1"]))
        act(s, s.get(Finding, fid), "reject", sup, local_at(date(2024, 2, 1), 15), note="佐证材料不全")
        act(s, s.get(Finding, fid), "report", SYSTEM, local_at(date(2024, 2, 2), 9), measures="补充佐证材料")
    assert run_daily(mail_rt, date(2024, 2, 5), at(date(2024, 2, 5))).signoffs == 1
    with mail_rt.sessions() as s, s.begin():
        practice.sign_off(s, s.get(Finding, fid), actor(mail_rt, county["fin_leader"]), local_at(date(2024, 2, 5)))
    assert run_daily(mail_rt, date(2024, 2, 6), at(date(2024, 2, 6))).signoffs == 0
    assert count(mail_rt, Event, Event.kind == "signoff_request") == 2 and len(smtp_sink.received) == 2


def test_it_attaches_the_units_supervision_notice_to_the_contacts_and_leaders_letters(mail_rt, county,
                                                                                      smtp_sink) -> None:
    a = add(mail_rt, county, "fin", SUPERVISE_LATE, code="DC-001", problem="<b>台账</b>不全")
    b = add(mail_rt, county, "fin", date(2024, 1, 19), code="DC-002")  # 8 late: 督办 too
    add(mail_rt, county, "edu", date(2024, 1, 30))  # 催办 only: no notice

    first = run_daily(mail_rt, DAY, NOW)
    assert first.notices == ["〔2024〕1号"]
    with mail_rt.sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert (notice.number, notice.unit_id, sorted(notice.finding_ids)) == (1, county["fin"], sorted([a, b]))
    raw = {r.rcpt[0]: r.data for r in smtp_sink.received}
    for who in ("zhang@fin.example", "zhao@fin.example"):
        msg = next(m for m in smtp_sink.by_recipient()[who])
        assert msg.get_content_type() == "multipart/mixed"
        (att,) = list(msg.iter_attachments())
        assert att.get_filename() == "督办通知〔2024〕1号（县财政局）.docx"
        assert att.get_content_type().endswith("wordprocessingml.document")
        assert re.search(rb"filename\*(0\*)?=utf-8''%E7%9D%A3", raw[who])  # RFC 2231 (continued) on the wire
        text = Document(io.BytesIO(att.get_content())).paragraphs
        doc = "\n".join(p.text for p in text)
        assert "〔2024〕1号" in doc and "县财政局：" in doc
        cells = [c.text for t in Document(io.BytesIO(att.get_content())).tables for r in t.rows for c in r.cells]
        assert "DC-001" in cells and "DC-002" in cells and "<b>台账</b>不全" in cells
        body, _ = bodies(msg)
        assert "《督办通知》（〔2024〕1号）" in body
    for who in ("sun@group.example", "li@edu.example", "office@county.example"):
        assert all(not list(m.iter_attachments()) for m in smtp_sink.by_recipient().get(who, []))

    again = run_daily(mail_rt, DAY, NOW + timedelta(hours=2))
    assert again.messages == 0 and again.sent == 0 and again.notices == []
    assert count(mail_rt, Notice) == 1 and count(mail_rt, Event, Event.kind == "notice") == 2
    assert len(smtp_sink.received) == first.sent


def test_it_issues_the_same_notice_when_the_day_is_run_again_after_a_crash(mail_rt, county, smtp_sink) -> None:
    from rectify.services.daily import issue_day_notices, plan_day

    add(mail_rt, county, "fin", SUPERVISE_LATE)
    crashed = plan_day(mail_rt, DAY, NOW)
    issued = issue_day_notices(mail_rt, crashed)  # the run died after numbering, before its commit
    report = run_daily(mail_rt, DAY, NOW + timedelta(minutes=10))
    assert report.notices == [issued[county["fin"]].number] == ["〔2024〕1号"]
    assert count(mail_rt, Notice) == 1
    assert all(len(list(m.iter_attachments())) == 1 for m in (smtp_sink.by_recipient()["zhang@fin.example"]))


def test_it_sends_a_reassigned_findings_steps_only_to_the_new_unit(mail_rt, county, smtp_sink) -> None:
    fid = add(mail_rt, county, "fin", date(2024, 1, 30))  # one day late: 催办 today
    with mail_rt.sessions() as s, s.begin():
        practice.reassign(s, s.get(Finding, fid), s.get(Unit, county["edu"]), SYSTEM, NOW, reason="职责调整")
    report = run_daily(mail_rt, DAY, NOW)
    assert report.handovers == 1 and report.escalations == {"urge": 1}
    got = subjects(smtp_sink)
    assert sorted(got) == ["li@edu.example", "qian@edu.example"]  # 催办 goes to the contact and the leader
    text, _ = bodies(smtp_sink.by_recipient()["li@edu.example"][0])
    assert "移交事项" in text and "催办事项" in text
