"""The daily run's IM/SMS rows: one per (recipient, day, kind, channel), rendered beside the mail and
inserted in the same transaction (commit.py), so a letter and its card or SMS exist together or not at all.

- Which channels: `[channels]` per the letter's most urgent level, among those configured, to the
  person's userid / mobile when the directory has one. Mail rows are unchanged.
- The 督导组 robots get one summary row per group and day (recipient robot:<group>).
- Daily cap per channel: the most urgent rows first; the rest go by mail only (counted in the report).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import OutboxMessage, Person
from rectify.channels.render import CardInput, card, card_input, robot_summary, sms_line
from rectify.core.routing import RANK, Letter
from rectify.links import login_links
from rectify.mail import outbox
from rectify.runtime import Runtime

ADDRESS = {"wecom": 1, "dingtalk": 2, "sms": 0}  # channel → index into a person's (mobile, wecom, dingtalk)
LIST_PATH = "/findings"


def _reach(rt: Runtime, person_ids: list[int]) -> dict[int, tuple[str | None, str | None, str | None]]:
    """Active people among these with at least one channel: id → (mobile, wecom userid, dingtalk userid).

    An ordinary day's letters name most of the directory's active people: then one statement reads every
    reachable person and the others are dropped here (10,000 people: 0.010 s of CPU, against 0.022 s for
    the same rows fetched by IN lists of bound ids, which SQLite and the driver pay for id by id). A day
    that names few of them reads just those."""
    out: dict[int, tuple[str | None, str | None, str | None]] = {}
    q = (select(Person.id, Person.mobile, Person.wecom_userid, Person.dingtalk_userid)
         .where(Person.active.is_(True))
         .where((Person.mobile.is_not(None)) | (Person.wecom_userid.is_not(None))
                | (Person.dingtalk_userid.is_not(None))))
    with rt.sessions() as s:
        if person_ids and 2 * len(person_ids) >= (s.scalar(select(func.count()).where(Person.active.is_(True))) or 0):
            wanted = set(person_ids)
            return {pid: (mobile, wecom, ding) for pid, mobile, wecom, ding in s.execute(q) if pid in wanted}
        for i in range(0, len(person_ids), 5000):
            for pid, mobile, wecom, ding in s.execute(q.where(Person.id.in_(person_ids[i:i + 5000]))):
                out[pid] = (mobile, wecom, ding)
    return out


def reach_of(rt: Runtime, letters: Sequence[Letter]) -> dict[int, tuple[str | None, str | None, str | None]]:
    """The IM/SMS addresses of these letters' people, read once: the daily run reads them before its render
    workers fork (DayPlan.channel_reach), instead of each worker opening a connection and reading its chunk's."""
    return _reach(rt, sorted({lt.person_id for lt in letters if lt.person_id is not None}))


def _row(recipient: str, day: date, channel: str, payload: dict, top: str, counts: dict[str, int],
         items: int) -> outbox.Queued:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    subject = payload.get("title") or payload.get("text", "")
    return outbox.Queued(recipient, "daily", day, data, items=items, subject=subject[:500], channel=channel,
                         meta={"top": top, "counts": {k: v for k, v in counts.items() if v}})


def channel_rows(rt: Runtime, day, letters: Sequence[Letter], scope_of,
                 links: Mapping[int, Callable[[str], str]] | None = None) -> list[outbox.Queued]:
    """The IM/SMS rows of these letters (a render chunk). Reads the people's channels; writes nothing.
    `links`: person id → their letter's sign-in links (the token is the same: signed once, not twice)."""
    cfg = rt.settings.channels
    if not cfg.configured() or not letters:
        return []
    reach = day.channel_reach if day.channel_reach is not None else reach_of(rt, letters)
    if not reach:
        return []
    d = day.directory
    portal = rt.settings.public_url.rstrip("/")
    max_age = timedelta(days=rt.settings.web.link_max_age_days)
    out: list[outbox.Queued] = []
    for letter in letters:
        addresses = reach.get(letter.person_id) if letter.person_id is not None else None
        wanted = [c for c in cfg.for_level(letter.top_kind) if addresses and addresses[ADDRESS[c]]]
        if not wanted:
            continue
        link = (links or {}).get(letter.person_id) or login_links(portal, rt.settings.secret, letter.person_id,
                                                                   now=day.now, max_age=max_age)
        url = link(LIST_PATH)
        c: CardInput = card_input(letter, day.today, scope_of(letter, d), lambda f: day.details[f].problem,
                                  lambda u: d.units.get(u, ""), url)
        for ch in wanted:
            to = addresses[ADDRESS[ch]]
            if ch == "sms":
                text = sms_line(replace(c, url=portal), cfg.sms.signature, cfg.sms.max_chars)
                if text is None:
                    continue  # even the brief line is over the limit: the mail carries it
                payload = {"to": to, "text": text}
            else:  # 钉钉 and 企业微信 markdown read the markdown; only a 企业微信 textcard the description
                payload = {"to": to, **card(c, textcard=ch == "wecom" and cfg.wecom.msgtype == "textcard")}
            out.append(_row(letter.email, day.today, ch, payload, c.top, c.counts, c.total))
    return out


def robot_rows(rt: Runtime, day, letters: Sequence[Letter]) -> list[outbox.Queued]:
    """One summary per configured 督导组 robot that has items today."""
    cfg = rt.settings.channels
    d = day.directory
    if not cfg.robots or d is None:
        return []
    group_ids = {name: gid for gid, name in d.groups.items()}
    wanted = {group_ids[r.group]: r for r in cfg.robots if r.group in group_ids}
    per_group: dict[int, dict[int, tuple[str, int]]] = {g: {} for g in wanted}
    for letter in letters:
        for item in letter.items:
            if item.group_id in per_group:
                seen = per_group[item.group_id].get(item.action.finding_id)
                if seen is None or RANK[item.action.kind] > RANK[seen[0]]:
                    per_group[item.group_id][item.action.finding_id] = (item.action.kind, item.unit_id)
    portal = rt.settings.public_url.rstrip("/") + LIST_PATH
    out = []
    for gid, items in per_group.items():
        if not items:
            continue
        robot = wanted[gid]
        payload = {"to": robot.group, **robot_summary(robot.group, day.today, items, dict(d.units),
                                                      dict(d.unit_rank), portal)}
        counts = Counter(k for k, _ in items.values())
        top = max(counts, key=RANK.__getitem__)
        out.append(_row(f"robot:{robot.group}", day.today, f"{robot.vendor}_robot", payload, top, dict(counts),
                        len(items)))
    return out


def within_caps(s: Session, rows: Sequence[outbox.Queued], caps: dict[str, int], today: date) -> tuple[list[int],
                                                                                                     Counter[str]]:
    """Indices of the rows to insert under the channels' daily caps (most urgent first; rows already queued
    today count), and how many were left out per channel. Mail is never capped here."""
    capped: Counter[str] = Counter()
    if not any(c > 0 for c in caps.values()):
        return list(range(len(rows))), capped
    used = dict(s.execute(select(OutboxMessage.channel, func.count()).where(OutboxMessage.day == today)
                          .group_by(OutboxMessage.channel)).all())
    room = {ch: max(cap - used.get(ch, 0), 0) for ch, cap in caps.items() if cap > 0}
    order = sorted(range(len(rows)), key=lambda i: (-RANK.get((rows[i].meta or {}).get("top", ""), -1),
                                                     -rows[i].items, i))
    keep: list[int] = []
    for i in order:
        ch = rows[i].channel
        if ch in room:
            if room[ch] == 0:
                capped[ch] += 1
                continue
            room[ch] -= 1
        keep.append(i)
    return sorted(keep), capped
