"""回头看 over HTTP: once `recheck_working_days` working days have passed since closing, the supervisor who
closed the finding (or an admin) confirms the fix held or reopens it with a reason and a new deadline."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pendulum
import pytest
from sqlalchemy import select

from models import Event, Finding
from rectify.core.practice import recheck_due_on
from rectify.core.workcal import package_calendar
from tests.web.helpers import NOW, client, csrf_of, person_of, post_form
from web.supervision import recheck_before

SHANGHAI = pendulum.timezone("Asia/Shanghai")


def _close(rt, fid: int, by: int, on: datetime) -> None:
    with rt.sessions() as s, s.begin():
        f = s.get(Finding, fid)
        f.closed_at, f.closed_by_id = on, by


@pytest.fixture
def due(rt, world):
    """closed_a was closed by sup_1 on 1 November 2023: its 回头看 fell due in December."""
    _close(rt, world.closed_a, world.sup_1, pendulum.datetime(2023, 11, 1, 10, tz="Asia/Shanghai"))
    return world


def _state(rt, fid: int) -> tuple[str, date | None, datetime | None, int, int]:
    with rt.sessions() as s:
        f = s.get(Finding, fid)
        return f.state, f.due_date, f.rechecked_at, f.reopen_count, f.version


def _kinds(rt, fid: int) -> list[str]:
    with rt.sessions() as s:
        return list(s.scalars(select(Event.kind).where(Event.finding_id == fid).order_by(Event.id)))


def test_it_offers_the_recheck_to_whoever_closed_it(app, rt, due) -> None:
    w = due
    for who, offered in ((w.sup_1, True), (w.admin, True), (w.sup_1b, False), (w.contact_a, False)):
        c = client(app, who)
        form = f'action="/findings/{w.closed_a}/recheck"'
        assert (form in c.get(f"/findings/{w.closed_a}").text) == offered, who
    href = f'href="/findings/{w.closed_a}"'
    mine = client(app, w.sup_1).get("/findings", params={"recheck": "1"}).text
    assert href in mine and "待回头看" in mine and "共 1 项" in mine
    assert href not in client(app, w.sup_1b).get("/findings", params={"recheck": "1"}).text
    assert href in client(app, w.admin).get("/findings", params={"recheck": "1"}).text
    reopen_due = rt.calendar.add_working_days(NOW.date(), 10)
    assert f'name="reopen_due" value="{reopen_due.isoformat()}"' in client(app, w.sup_1).get(
        f"/findings/{w.closed_a}").text


def test_it_refuses_a_recheck_by_anyone_else(app, rt, due) -> None:
    w = due
    with rt.sessions() as s:
        leader_a = person_of(s, w.unit_a, "unit_leader")
    before = _state(rt, w.closed_a)
    for decision in ("confirm", "reopen"):
        for who in (w.sup_1b, w.sup_2, w.contact_a, leader_a, w.contact_b):
            c = client(app, who)
            r = c.post(f"/findings/{w.closed_a}/recheck", data={
                "csrf_token": csrf_of(c), "version": "1", "decision": decision, "recheck_note": "反弹",
                "reopen_due": "2024-02-20"})
            assert r.status_code == 403, (decision, who)
    assert _state(rt, w.closed_a) == before and _kinds(rt, w.closed_a) == []


def test_it_confirms_that_the_fix_held(app, rt, due) -> None:
    w = due
    sup = client(app, w.sup_1)
    r = post_form(sup, w.closed_a, "recheck", decision="confirm", recheck_note="宣传栏已按季度更新，成效巩固")
    assert r.status_code == 303
    state, _, rechecked_at, reopens, _ = _state(rt, w.closed_a)
    assert (state, rechecked_at, reopens) == ("closed", NOW, 0)
    assert _kinds(rt, w.closed_a) == ["recheck_ok"]
    page = sup.get(f"/findings/{w.closed_a}").text
    assert "/recheck" not in page and "回头看：整改成效巩固" in page and "宣传栏已按季度更新" in page
    assert f'href="/findings/{w.closed_a}"' not in sup.get("/findings", params={"recheck": "1"}).text
    again = post_form(sup, w.closed_a, "recheck", decision="confirm")
    assert again.status_code == 409 and "已完成回头看" in again.text


def test_it_reopens_only_with_a_reason_and_a_new_deadline(app, rt, due) -> None:
    w = due
    sup = client(app, w.sup_1)
    before = _state(rt, w.closed_a)
    cases = [({"recheck_note": " ", "reopen_due": "2024-02-20"}, "重新交办须写明问题反弹的情况"),
             ({"recheck_note": "宣传栏内容再次过期", "reopen_due": ""}, "重新交办须明确新的整改时限"),
             ({"recheck_note": "宣传栏内容再次过期", "reopen_due": "2024-01-10"}, "时限不能早于今天")]
    for data, message in cases:
        r = post_form(sup, w.closed_a, "recheck", decision="reopen", **data)
        assert r.status_code == 400 and message in r.text, data
    assert _state(rt, w.closed_a) == before and _kinds(rt, w.closed_a) == []

    r = post_form(sup, w.closed_a, "recheck", decision="reopen", recheck_note="宣传栏内容再次过期，问题反弹",
                  reopen_due="2024-02-20")
    assert r.status_code == 303
    state, due_date, _, reopens, _ = _state(rt, w.closed_a)
    assert (state, due_date, reopens) == ("open", date(2024, 2, 20), 1)
    assert _kinds(rt, w.closed_a) == ["reopen", "deadline_change"]
    page = client(app, w.contact_a).get(f"/findings/{w.closed_a}").text
    assert "回头看：问题反弹，重新交办" in page and "宣传栏内容再次过期，问题反弹" in page
    assert "（回头看重新交办）" in page and "反弹次数</dt><dd>1" in page
    assert 'name="measures"' in page  # the unit reports again


def test_it_waits_until_the_recheck_is_due(app, rt, world) -> None:
    _close(rt, world.closed_a, world.sup_1, pendulum.datetime(2024, 1, 15, 10, tz="Asia/Shanghai"))
    sup = client(app, world.sup_1)
    page = sup.get(f"/findings/{world.closed_a}").text
    assert "/recheck" not in page and "回头看</dt>" in page
    r = post_form(sup, world.closed_a, "recheck", decision="confirm")
    assert r.status_code == 409 and "尚未到回头看时间" in r.text
    assert _kinds(rt, world.closed_a) == []


def test_it_bounds_due_rechecks_as_the_rule_dates_each_one() -> None:
    """The list filter's single bound agrees with recheck_due_on for every closing day, across the
    Spring Festival and its 调休 Sundays."""
    cal = package_calendar()
    for n in (1, 5, 30):
        for today in (date(2024, 2, 8) + timedelta(days=i) for i in range(0, 30)):
            bound = recheck_before(cal, n, today, SHANGHAI)
            for closed in (date(2023, 12, 1) + timedelta(days=i) for i in range(0, 90)):
                at = datetime(closed.year, closed.month, closed.day, 23, 59, tzinfo=SHANGHAI)
                assert (at < bound) == (recheck_due_on(closed, cal, n) <= today), (n, today, closed)
