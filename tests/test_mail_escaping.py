"""Every mail's HTML part escapes every field (issue 13.2): names in the salutation and the tables, codes,
problem texts, the notice file name, the sender, the digest's units and the sign-in mail's name."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models import Person, SupervisionGroup, Unit
from rectify.runtime import build_runtime
from rectify.services.daily.run import run_daily
from rectify.templating import render
from tests.support import bulletin_data, factory
from tests.support.markup import EVIL, EVIL_SHORT, live_markup

NOW = datetime(2024, 1, 31, 0, 30, tzinfo=UTC)
DAY = date(2024, 1, 31)


@pytest.fixture
def hostile_rt(smtp_settings):
    settings = smtp_settings.model_copy(update={"smtp": smtp_settings.smtp.model_copy(
        update={"from_name": "督办" + EVIL_SHORT})})
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


def _hostile_county(rt) -> None:
    with rt.sessions() as s, s.begin():
        g = SupervisionGroup(name="第一" + EVIL_SHORT + "组")
        s.add(g)
        r = factory.round_(s)
        units = [Unit(name="县甲局" + EVIL_SHORT), Unit(name="县乙乡<a href='https://x-evil.example'>")]
        s.add_all(units)
        s.flush()
        for i, u in enumerate(units):
            s.add_all([Person(name="甲联系<b>人</b>" + EVIL_SHORT, email=f"c{i}@unit.example", role="unit_contact",
                              unit_id=u.id),
                       Person(name="乙负责" + EVIL_SHORT, email=f"l{i}@unit.example", role="unit_leader",
                              unit_id=u.id)])
            for due in (date(2024, 1, 10), date(2024, 1, 22), DAY, date(2024, 2, 2), None):
                f = factory.finding(s, unit=u, round=r, group=g, due=due, problem=EVIL + str(due),
                                    kind="fixed" if due else "long", code=f"X{i}{due}" + EVIL_SHORT)
                f.opinion = EVIL
        s.add(Person(name="丙督导" + EVIL_SHORT, email="sup@group.example", role="supervisor", group_id=g.id))


def test_it_escapes_every_field_of_the_daily_letters(hostile_rt, smtp_sink) -> None:
    _hostile_county(hostile_rt)
    report = run_daily(hostile_rt, DAY, NOW)
    assert report.sent >= 5 and report.failed == []
    letters = smtp_sink.by_recipient()
    notices = 0
    for to, (msg,) in letters.items():
        html = msg.get_body(("html",)).get_content()
        assert live_markup(html) == [], (to, live_markup(html))
        assert "&lt;b x-evil&gt;" in html
        notices += "督办通知" in html and "（附件：" in html
    contact = letters["c0@unit.example"][0].get_body(("html",)).get_content()
    assert "甲联系&lt;b&gt;人&lt;/b&gt;" in contact  # the salutation, as issue 13 found it live
    assert notices >= 2  # the notice's file name (named after the unit) was in the letters checked


def test_it_escapes_the_names_in_the_weekly_digest(rt) -> None:
    from rectify.bulletin.digest import build, render_digest

    with rt.sessions() as s:
        data = bulletin_data.seed(s)
        for u in s.query(Unit):
            u.name += EVIL_SHORT + str(u.id)
        data.overdue.problem = EVIL
        data.overdue.code = EVIL_SHORT
        s.commit()
    html = render_digest(build(rt, week_of=date(2024, 1, 19), today=date(2024, 1, 19)), rt.settings).html
    assert live_markup(html) == [] and "&lt;b x-evil&gt;" in html


def test_it_escapes_the_name_in_the_sign_in_mail() -> None:
    html = render("mail/signin.html", person=Person(name=EVIL), url='https://a.example/auth/t?next=/" onclick="1',
                  hours=24, now=NOW)
    assert live_markup(html) == [] and "&lt;x-evil" in html


def test_it_escapes_text_macros_only_in_html() -> None:
    """The root cause: macros from a .txt file came back to the HTML template marked safe, unescaped."""
    from rectify.templating import env

    args = ("县<b>甲</b>局", "甲联系<b>人</b>", ["unit_contact"])
    for_html = env().get_template("mail/_daily_words.txt", parent="mail/daily.html").module
    for_text = env().get_template("mail/_daily_words.txt", parent="mail/daily.txt").module
    assert str(for_html.salutation(*args)) == "县&lt;b&gt;甲&lt;/b&gt;局 甲联系&lt;b&gt;人&lt;/b&gt;同志"
    assert str(for_text.salutation(*args)) == "县<b>甲</b>局 甲联系<b>人</b>同志"
