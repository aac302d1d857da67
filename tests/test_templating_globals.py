"""Templates' globals as a plain dict (templating._Environment.make_globals): the same text as Jinja2's own
ChainMap globals give, for the letters, the cards and the SMS lines, escaped or not."""

from __future__ import annotations

import traceback
from collections import Counter
from datetime import date

import pytest
from jinja2 import Environment, UndefinedError

from rectify.channels.render import CardInput, _ctx, card, sms_line
from rectify.services.daily.letters import block, item_words
from rectify.templating import TEMPLATES, _Environment, _Loader, autoescaped, env, render, render_subject


class _Stock(_Environment):
    """Rectify's environment with Jinja2's own globals: a ChainMap over the environment's, per template."""

    make_globals = Environment.make_globals


def stock() -> Environment:
    mine = env()
    e = _Stock(loader=_Loader(TEMPLATES), autoescape=autoescaped, undefined=mine.undefined, trim_blocks=True,
               lstrip_blocks=True, keep_trailing_newline=True, auto_reload=False)
    e.filters.update(mine.filters)
    e.globals.update(mine.globals)
    return e


def item(kind: str, code: str, problem: str, days: int | None, colour: str | None = None) -> dict:
    return {"kind": kind, "code": code, "problem": problem, "opinion": "建立<台账>&制度", "due": date(2024, 6, 3),
            "closed_on": None, "colour": colour, "provisional": kind == "remind", "replan": None,
            "days": days, "left": -days if days is not None and days < 0 else 0,
            "late": days if days is not None and days > 0 else 0}


def letter_context(overseer: bool, personal: bool, who: str) -> dict:
    urge = item_words(item("urge", "B-01", "执法<b>信息</b>未公开", 3, "red"))
    remind = item_words(item("remind", "B-02", "台账 & 制度", -2))
    counts = Counter({"urge": 1, "remind": 2})
    blocks = ([block(None, "县财政局<i>", 2, [(urge, "https://x/f/1?a=1&b=2"), (remind, "https://x/f/2")], personal)]
              if overseer else [block("urge", None, 1, [(urge, "https://x/f/1")], personal),
                                block("remind", None, 2, [(remind, "https://x/f/2")], personal)])
    return {"today": date(2024, 6, 5), "who": who, "roles": ["unit_contact"], "overseer": overseer, "top": "urge",
            "total": 3, "listed": 2, "omitted": 1, "counts": counts, "units": 2 if overseer else 1,
            "scope": "县财政局", "overdue": 1, "remind_dues": [date(2024, 6, 7)], "blocks": blocks,
            "per_unit": [{"unit": "县<财政>局", "counts": counts, "total": 3}] if overseer else [],
            "other_units": {"units": 4, "counts": Counter({"remind": 5}), "total": 5} if overseer else None,
            "kinds": ["urge", "remind"], "colour": "red",
            "notices": [{"number": "〔2024〕3号", "reply_by": date(2024, 6, 12), "unit": "县财政局",
                         "file": "督办通知.docx"}],
            "portal": "https://dc.county.example", "personal": personal, "link_days": 7, "sender": "县委督查室"}


@pytest.mark.parametrize("overseer", [False, True])
@pytest.mark.parametrize("personal", [False, True])
@pytest.mark.parametrize("who", ["张三", "甲<b>乙</b>", ""])
def test_it_renders_the_daily_letter_as_jinja2s_own_globals_would(overseer, personal, who) -> None:
    ctx = letter_context(overseer, personal, who)
    theirs = stock()
    for name in ("mail/daily.html", "mail/daily.txt", "mail/daily.subject.txt"):
        mine = render(name, **ctx)
        assert mine == theirs.get_template(name).render(**ctx)
        assert mine.strip()
    html = render("mail/daily.html", **ctx)
    assert "&lt;b&gt;信息&lt;/b&gt;" in html and "<b>信息" not in html  # user text escaped in the HTML part
    assert "执法<b>信息</b>未公开" in render("mail/daily.txt", **ctx)  # and left as it is in the text part
    assert "催办1项、提醒2项" in html  # the intro's counts, by the letter's kinds in order of urgency


def test_it_renders_the_cards_and_sms_lines_as_jinja2s_own_globals_would() -> None:
    theirs = stock()
    for who in ("张三", "甲<b>乙</b>"):
        c = CardInput(date(2024, 1, 31), who, "县财政局", "notify", {"notify": 1, "remind": 2},
                      [{"kind": "notify", "days": 12, "problem": "执法信息未公开", "unit": ""}], 3, "https://x/a?b=1&c=2")
        got = card(c)
        ctx = _ctx(c)
        assert got["markdown"] == theirs.get_template("channels/card.md").render(**ctx).strip()
        assert got["title"] == " ".join(theirs.get_template("channels/card_title.txt").render(**ctx).split())
        for brief in (False, True):
            sms = {**ctx, "signature": "【县督查室】", "brief": brief}
            assert render_subject("channels/sms.txt", **sms) == " ".join(
                theirs.get_template("channels/sms.txt").render(**sms).split())
        assert sms_line(c, "【县督查室】", 70)


def test_it_keeps_the_environments_globals_and_a_templates_own() -> None:
    e = env()
    assert e.from_string("{{ cn_percent(1, 3) }}|{{ labels.colour.red }}").render() == (
        f"33.3%|{e.globals['labels']['colour']['red']}")
    own = e.from_string("{{ x }}-{{ cn_percent(1, 4) }}", globals={"x": "自有"})
    assert own.render() == "自有-25.0%" and "x" not in e.globals  # a template's globals stay its own
    assert own.render(x="上下文") == "上下文-25.0%"  # the render's context wins, as in Jinja2


def test_a_missing_value_still_raises_jinja2s_error_naming_the_template() -> None:
    with pytest.raises(UndefinedError, match="'top' is undefined") as err:
        render("mail/daily.subject.txt", colour=None)
    assert any("daily.subject.txt" in (f.filename or "") for f in traceback.extract_tb(err.tb))
