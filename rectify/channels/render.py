"""The IM card and the SMS line of a daily letter, and a 督导组's robot summary. Pure rendering.

The mail stays the full letter. The card carries the counts by level, the three most urgent items and
the personal sign-in link; the SMS one line with the count and the portal's address (no signed link: an
SMS passes through the operator's systems), within the gateway's length limit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Any

from rectify.core.routing import KINDS_BY_URGENCY, RANK, Item, Letter, kind_counts
from rectify.templating import compiled, env, render, render_context, render_line

URGENT = 3  # items shown on a card
PROBLEM_CHARS = 40  # a card shows this much of each problem
ROBOT_UNITS = 10  # units named in a group summary

_MD = re.compile(r"[\[\]()<>*_`#|\\]")  # markdown structure in user text: replaced, never interpreted


def plain(text: str, limit: int = PROBLEM_CHARS) -> str:
    """User text safe inside markdown: one line, no markup characters, shortened with an ellipsis."""
    one = " ".join(_MD.sub(" ", str(text)).split())
    return one if len(one) <= limit else one[:limit - 1] + "…"


def most_urgent(items: Iterable[Item], n: int = URGENT) -> list[Item]:
    return sorted(items, key=lambda i: (-RANK[i.action.kind], -(i.action.days or 0), i.action.finding_id))[:n]


@dataclass(frozen=True)
class CardInput:
    """What a card needs of a letter, without the plan: testable on its own."""

    today: date
    who: str
    scope: str
    top: str
    counts: dict[str, int]
    urgent: list[dict[str, Any]]
    total: int
    url: str


def card_input(letter: Letter, today: date, scope: str, problem_of: Callable[[int], str],
               unit_name: Callable[[int], str], url: str) -> CardInput:
    counts = kind_counts(letter.items)
    urgent = [{"kind": i.action.kind, "days": i.action.days, "problem": plain(problem_of(i.action.finding_id)),
               "unit": plain(unit_name(i.unit_id), 20) if letter.overseer else ""}
              for i in most_urgent(letter.items)]
    return CardInput(today, plain(letter.name, 20), plain(scope, 30), letter.top_kind, counts, urgent,
                     len(letter.items), url)


@cache
def _words() -> Any:
    """channels/_words.txt's macros (the level names, headings, item status), looked up once per process."""
    return env().get_template("channels/_words.txt").module


@cache
def _level(kind: str) -> str:
    return str(_words().level_name(kind))


@cache
def _head(top: str) -> str:
    return str(_words().head(top))


@lru_cache(maxsize=4096)
def _status(kind: str, days: int | None) -> str:
    return str(_words().status({"kind": kind, "days": days}))


@lru_cache(maxsize=4096)
def _counts_line(pairs: tuple[tuple[str, int], ...]) -> str:
    return str(_words().counts_line([k for k, _ in pairs], dict(pairs)))


def warm(textcard: bool) -> None:
    """Compile the card and SMS templates and the words' macros in this process. The daily run calls it
    before forking its render workers, which then inherit them compiled instead of each compiling its own
    (~35 ms of CPU a worker)."""
    names = ["channels/card.md", "channels/card_title.txt", "channels/sms.txt"]
    for name in names + (["channels/card_description.txt"] if textcard else []):
        compiled(name)
    _words()


def _ctx(c: CardInput) -> dict[str, Any]:
    """The templates' context. The words are the macros' (templates/channels/_words.txt), called once per
    distinct value and process: a day's cards repeat a handful of levels and statuses thousands of times,
    and a Jinja2 macro call costs more than the rest of a card."""
    kinds = [k for k in KINDS_BY_URGENCY if c.counts.get(k)]
    urgent = [{**i, "level": _level(i["kind"]), "status": _status(i["kind"], i["days"])} for i in c.urgent]
    return {"today": c.today, "who": c.who, "scope": c.scope, "top": c.top, "counts": c.counts, "kinds": kinds,
            "urgent": urgent, "total": c.total, "url": c.url, "head": _head(c.top), "top_level": _level(c.top),
            "counts_line": _counts_line(tuple((k, c.counts[k]) for k in kinds))}


def card(c: CardInput, textcard: bool = True) -> dict[str, Any]:
    """The IM payload: title and markdown (企业微信/钉钉), and the textcard parts when asked for."""
    ctx = _ctx(c)
    out = {"title": render_line("channels/card_title.txt", ctx),
           "markdown": render_context("channels/card.md", ctx).strip(), "url": c.url}
    if textcard:
        description = render_line("channels/card_description.txt", ctx)
        while len(description.encode()) > 512 and ctx["urgent"]:  # textcard's documented limit
            ctx["urgent"] = ctx["urgent"][:-1]
            description = render_line("channels/card_description.txt", ctx)
        out.update(description=description, button="去办理")
    return out


def sms_line(c: CardInput, signature: str, max_chars: int) -> str | None:
    """One line within `max_chars`; the brief form when the full one is too long; None if even that is."""
    ctx = _ctx(c)
    for brief in (False, True):
        text = render_line("channels/sms.txt", {**ctx, "signature": signature, "brief": brief})
        if len(text) <= max_chars:
            return text
    return None


def robot_summary(group: str, today: date, items: dict[int, tuple[str, int]], unit_names: dict[int, str],
                  unit_rank: dict[int, int], url: str) -> dict[str, Any]:
    """A 督导组's daily summary. `items`: finding id → (most urgent kind, unit id)."""
    counts: Counter[str] = Counter(k for k, _ in items.values())
    per_unit: dict[int, Counter[str]] = {}
    for kind, unit in items.values():
        per_unit.setdefault(unit, Counter())[kind] += 1
    order = sorted(per_unit, key=lambda u: (-max(RANK[k] for k in per_unit[u]), unit_rank.get(u, u)))
    units = [{"unit": plain(unit_names.get(u, ""), 30), "total": sum(per_unit[u].values()),
              "worst": max(per_unit[u], key=RANK.__getitem__)} for u in order[:ROBOT_UNITS]]
    ctx = {"group": plain(group, 30), "today": today, "total": len(items), "counts": counts,
           "kinds": [k for k in KINDS_BY_URGENCY if counts[k]], "units": units,
           "more_units": max(len(order) - ROBOT_UNITS, 0), "url": url}
    return {"title": f"整改督办日报 {plain(group, 30)}", "markdown": render("channels/robot.md", **ctx).strip()}
