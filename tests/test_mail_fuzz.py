"""Hostile-input fuzz over every mail template (issue 13.2): whatever text lands in any field, the HTML part
has the same tags and attributes as with harmless text, and no template fails. Bounded: a few dozen
examples per template, no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from rectify.bulletin.weekly import (
    Digest,
    OverdueItem,
    Rechecks,
    ReopenedItem,
    UnitRate,
    UnitWarning,
    WeekFigures,
)
from rectify.core.routing import KINDS_BY_URGENCY
from rectify.services.daily.letters import block, item_words
from rectify.templating import render, render_subject
from tests.support.markup import hostile_text, live_markup, structure

TODAY = date(2026, 11, 30)
TEXT = hostile_text()
FIELDS = st.fixed_dictionaries({k: TEXT for k in (
    "who", "scope", "sender", "unit", "unit2", "code", "problem", "opinion", "notice_number", "notice_file",
    "group")})


def daily_ctx(t: dict[str, str]) -> dict:
    """The context rectify.services.daily.letters.render_letters builds, every string from `t`."""
    counts = {k: 1 for k in KINDS_BY_URGENCY}

    def item(kind: str) -> dict:  # a row as the letter gets it: its rendered words and the link
        words = item_words({
            "kind": kind, "code": t["code"], "problem": t["problem"], "opinion": t["opinion"],
            "due": TODAY if kind != "review" else None, "unit": t["unit"], "closed_on": TODAY,
            "colour": "red", "days": 2, "left": 0, "late": 2, "provisional": kind == "remind",
            "replan": {"from": TODAY, "to": TODAY, "document": t["notice_number"]} if kind == "replan" else None,
            "ack_due": TODAY, "progress_due": TODAY})  # 签收 / 进展反馈 rows (issue 15)
        return words, "https://form.example/auth/t?next=/findings/1"

    blocks = [block(k, None, 1, [item(k)], True) for k in KINDS_BY_URGENCY]
    blocks.append(block(None, t["unit2"], 1, [item("urge")], True))
    return {
        "today": TODAY, "who": t["who"], "roles": ["unit_contact", "group"], "overseer": True, "top": "notify",
        "total": 9, "listed": 9, "omitted": 3, "counts": counts, "units": 2, "scope": t["scope"], "overdue": 3,
        "remind_dues": [TODAY], "blocks": blocks,
        "per_unit": [{"unit": t["unit"], "counts": counts, "total": 8}],
        "other_units": {"units": 3, "counts": counts, "total": 5},
        "kinds": list(KINDS_BY_URGENCY), "colour": "red",
        "notices": [{"number": t["notice_number"], "reply_by": TODAY, "unit": t["unit"],
                     "file": t["notice_file"]}],
        "portal": "https://form.example", "personal": True, "link_days": 14, "sender": t["sender"],
    }


def digest_ctx(t: dict[str, str]) -> dict:
    week = WeekFigures(TODAY, TODAY, new=1, closed=2, awaiting=1, overdue=3, open=4, overdue_original=3)
    d = Digest(week_start=TODAY, week_end=TODAY, as_of=TODAY, this=week, last=week, trend=[week],
               units=[UnitRate(t["unit"], 3, 1)],
               top_overdue=[OverdueItem(t["code"], t["unit"], t["problem"], TODAY, 3, date(2026, 11, 1), 5)],
               found=5, closed=2, extended=1, unit_colours={"red": 1, "yellow": 1, "blue": 1},
               red_units=[UnitWarning(t["unit2"], 2, 1)],
               rechecks=Rechecks(1, 1, 1, [ReopenedItem(t["code"], t["unit"], t["problem"], TODAY, TODAY)]))
    return {"d": d, "cids": {"rate": "r@rectify", "trend": "t@rectify"}, "form_url": "https://form.example/"}


def signin_ctx(t: dict[str, str]) -> dict:
    return {"person": SimpleNamespace(name=t["who"]), "url": "https://form.example/auth/t?next=/findings",
            "hours": 24, "now": datetime(2026, 11, 30, 9, 0)}


TEMPLATES: dict[str, Callable[[dict[str, str]], dict]] = {"daily": daily_ctx, "digest": digest_ctx,
                                                          "signin": signin_ctx}


def _harmless() -> dict[str, str]:
    return {k: "甲" for k in ("who", "scope", "sender", "unit", "unit2", "code", "problem", "opinion",
                              "notice_number", "notice_file", "group")}


def _check(name: str, t: dict[str, str]) -> None:
    build = TEMPLATES[name]
    html = render(f"mail/{name}.html", **build(t))
    assert live_markup(html) == [], live_markup(html)
    assert structure(html) == structure(render(f"mail/{name}.html", **build(_harmless())))
    render(f"mail/{name}.txt", **build(t))
    assert "\n" not in render_subject(f"mail/{name}.subject.txt", **build(t))


@settings(max_examples=40)
@given(FIELDS)
def test_it_never_lets_a_field_become_markup_in_the_daily_letter(t) -> None:
    _check("daily", t)


@settings(max_examples=25)
@given(FIELDS)
def test_it_never_lets_a_field_become_markup_in_the_digest(t) -> None:
    _check("digest", t)


@settings(max_examples=25)
@given(FIELDS)
def test_it_never_lets_a_field_become_markup_in_the_sign_in_mail(t) -> None:
    _check("signin", t)
