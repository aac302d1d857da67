"""Today's 督办通知 and the letters that carry them: render each letter to a complete MIME message, and park
rendered letters in a spool until the commit. Rendering writes nothing to the database."""

from __future__ import annotations

import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from rectify.channels.enqueue import channel_rows
from rectify.core.colours import worst
from rectify.core.notices import NoticeError
from rectify.core.provisional import tentative
from rectify.core.routing import (
    COMMAND_OFFICE,
    KINDS_BY_URGENCY,
    UNIT_CONTACT,
    UNIT_LEADER,
    Directory,
    Letter,
    kind_counts,
    sections,
)
from rectify.core.workcal import WorkCalendar
from rectify.links import login_links
from rectify.mail import outbox
from rectify.mail.compose import Attachment, build_message_bytes, encode_attachment, to_bytes
from rectify.runtime import Runtime
from rectify.services.daily import followup
from rectify.services.daily.plan import KIND, DayPlan, NoticeRef
from rectify.services.notices import DOCX_SUBTYPE, issue_notices, notice_number
from rectify.templating import Frame, compiled, env, labels, render_context, render_subject

LIST_LIMIT = 300  # items listed one by one in a letter; the rest are counted per unit
UNIT_TABLE_LIMIT = 100  # rows of an overseer's per-unit table; further units are summed in one row
ITEM_CACHE = 50_000  # rendered item rows kept per process (~1 KB each); letters listing one item come close together


def issue_day_notices(rt: Runtime, day: DayPlan) -> dict[int, NoticeRef]:
    """Number, render and record today's 督办通知 (one per unit that has findings reaching 督办), in their own
    short transaction. Idempotent per unit and day: a re-run gets the notices already issued back."""
    if not day.notice_units:
        return {}
    with rt.sessions() as s, s.begin():
        notices = issue_notices(s, rt, day.today, day.now, day.notice_units)
        return {n.unit_id: NoticeRef(n.unit_id, notice_number(n), n.file, n.reply_by) for n in notices}


def _notice_files(refs: Sequence[NoticeRef], cache: dict[str, tuple[Attachment, bytes]],
                  encoded: bool) -> tuple[Attachment | bytes, ...]:
    """Each notice for a letter: read and base64-encoded once for all the letters carrying it (the raw
    attachment only for the rare non-ASCII address, which takes the stdlib path)."""
    out: list[Attachment | bytes] = []
    for ref in refs:
        got = cache.get(ref.file)
        if got is None:
            path = Path(ref.file)
            try:
                att = Attachment(path.name, path.read_bytes(), subtype=DOCX_SUBTYPE)
            except OSError as exc:
                raise NoticeError(f"督办通知{ref.number}: cannot read {path}: {exc.strerror}") from None
            got = cache[ref.file] = (att, encode_attachment(att))
        out.append(got[1] if encoded else got[0])
    return tuple(out)


def _letter_notices(letter: Letter, day: DayPlan) -> list[NoticeRef]:
    """Today's notices for the units this address is a contact or leader of (not merely overseeing)."""
    if not day.notices or not letter.roles & {UNIT_CONTACT, UNIT_LEADER}:
        return []
    d = day.directory
    assert d is not None
    out = []
    for u in letter.unit_ids:
        ref = day.notices.get(u)
        if ref is not None and any(c.email == letter.email for c in (*d.contacts.get(u, ()), *d.leaders.get(u, ()))):
            out.append(ref)
    return out


def _days_text(days: int | None) -> dict[str, Any]:
    return {"days": days, "left": -days if days is not None and days < 0 else 0,
            "late": days if days is not None and days > 0 else 0}


def _scope(letter: Letter, d: Directory) -> str:
    """What the subject and greeting name: the unit when there is one, else the supervision group(s).

    Empty for the command office across several units (the templates say 全县).
    """
    units = letter.unit_ids
    if len(units) == 1:
        return d.units.get(units[0], "")
    if letter.group_ids and COMMAND_OFFICE not in letter.roles:
        return "、".join(d.groups[g] for g in sorted(letter.group_ids) if g in d.groups)
    return ""


def _blocks(letter: Letter, day: DayPlan, link: Callable[[str], str], cal: WorkCalendar, personal: bool
            ) -> tuple[list[dict[str, Any]], int]:
    """The letter's sections with their rows, at most LIST_LIMIT rows in all; returns (blocks, rows listed).

    A row is the item's words, rendered once per finding and kind for the whole day (`_item`), framed with
    this person's link by the row macros filled as strings (`_frames`): a county-wide first day lists over
    a hundred thousand rows, and a Jinja loop iteration per row cost more than the rest of the letter."""
    d = day.directory
    assert d is not None
    listed = 0
    blocks = []
    for sec in sections(letter, d.unit_rank):
        shown = sec.items[:max(LIST_LIMIT - listed, 0)]
        rows = [(_item(i.action, day, cal), link(f"/findings/{i.action.finding_id}")) for i in shown]
        listed += len(rows)
        unit = d.units.get(sec.unit_id, "") if sec.unit_id is not None else None
        blocks.append(block(None if unit is not None else sec.key, unit, len(sec.items), rows, personal))
    return blocks, listed


def block(kind: str | None, unit: str | None, count: int, rows: Sequence[tuple[dict[str, Any], str]],
          personal: bool) -> dict[str, Any]:
    """One section of the letter as daily.{html,txt} print it: a level's section (`kind`) or a unit's
    (`unit`, whose rows name their own levels), `count` items of which `rows` (words, link) are listed."""
    html, text = _frames(personal)
    levels = kind is None
    return {"kind": kind, "unit": unit, "count": count, "items": len(rows),
            "html_rows": Markup("".join(html.fill(w["html_level"] if levels else "", w["html"], url)
                                        for w, url in rows)),
            "text_rows": "".join(text.fill(str(n), w["text_level"] if levels else "", w["text"], url)
                                 for n, (w, url) in enumerate(rows, 1))}


@cache
def _frames(personal: bool) -> tuple[Frame, Frame]:
    """The row macros of templates/mail/daily_item.{html,txt}, rendered once per process with holes."""
    html, text = _item_macros()
    return (Frame(html.row, 3, escaped=True, personal=personal),
            Frame(text.row, 4, escaped=False, personal=personal))


def _item(a, day: DayPlan, cal: WorkCalendar) -> dict[str, Any]:
    """One item's rendered words (templates/mail/daily_item.{html,txt}), cached on the day.

    A finding is listed to its unit's contact and leader, its group's supervisors and the command office:
    on a first day the same few thousand items fill tens of thousands of rows, and the words of a row are
    the same in every letter (only the signed link differs)."""
    key = (a.finding_id, a.kind, a.days)
    got = day.rendered_items.get(key)
    if got is None:
        det = day.details[a.finding_id]
        i = {"kind": a.kind, "code": det.code, "problem": det.problem, "opinion": det.opinion, "due": det.due_date,
             "closed_on": det.closed_on, "colour": day.colours.get(a.finding_id),
             "provisional": tentative(cal, det.deadline_kind, det.inspected_on, det.due_date, day.today),
             "replan": _replan(day.replans.get(a.finding_id)) if a.kind == "replan" else None,
             **_days_text(a.days), **followup.detail(a.kind, day.due_days.get(a.finding_id, {}))}
        if len(day.rendered_items) >= ITEM_CACHE:  # a million-finding day must not keep every row's words
            day.rendered_items.clear()
        got = day.rendered_items[key] = item_words(i)
    return got


@cache
def _item_macros() -> tuple[Any, Any]:
    """The item templates' macros, looked up once per process (a first day calls them thousands of times)."""
    return env().get_template("mail/daily_item.html").module, env().get_template("mail/daily_item.txt").module


def warm() -> None:
    """Compile the letter's templates and build the row frames in this process. The daily run calls it before
    forking its render workers, which then inherit them ready instead of each compiling its own (the words'
    file twice, plain and escaped; issue 14)."""
    e = env()
    for name in ("mail/daily.html", "mail/daily.txt", "mail/daily.subject.txt"):
        compiled(name)  # the lookup render_context makes: the workers inherit it filled
    for parent in ("mail/daily.html", "mail/daily.txt"):  # what their `{% import %}` loads, as they load it
        e.get_template(e.join_path("mail/_daily_words.txt", parent))
    for personal in (False, True):
        _frames(personal)


def item_words(i: dict[str, Any]) -> dict[str, Any]:
    """A row's words for both parts of the letter: the level cell/prefix and the rest of the row (HTML
    escaped, text plain), from templates/mail/daily_item.{html,txt}."""
    html, text = _item_macros()
    return {"kind": i["kind"], "html_level": html.level(i), "html": html.cells(i), "text_level": text.level(i),
            "text": text.body(i)}


def _replan(info: dict[str, str] | None) -> dict[str, Any] | None:
    if not info:
        return None
    return {"from": date.fromisoformat(info["from"]), "to": date.fromisoformat(info["to"]),
            "document": info.get("document", "")}


def _per_unit(letter: Letter, d: Directory) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Overseers' count table: items per unit and level, units in display order.

    Past UNIT_TABLE_LIMIT units, the units with the most urgent items stay and the rest become one
    summed row (returned second), so a county-wide catch-up cannot outgrow a mail server's size limit.
    """
    if not letter.overseer:
        return [], None
    by_unit: dict[int, Counter[str]] = defaultdict(Counter)
    for i in letter.items:
        by_unit[i.unit_id][i.action.kind] += 1
    units = list(by_unit)
    rest: dict[str, Any] | None = None
    if len(units) > UNIT_TABLE_LIMIT:
        units.sort(key=lambda u: tuple(-by_unit[u][k] for k in KINDS_BY_URGENCY))
        others, units = units[UNIT_TABLE_LIMIT:], units[:UNIT_TABLE_LIMIT]
        summed: Counter[str] = sum((by_unit[u] for u in others), Counter())
        rest = {"units": len(others), "counts": summed, "total": sum(summed.values())}
    rows = [{"unit": d.units.get(u, ""), "counts": by_unit[u], "total": sum(by_unit[u].values())}
            for u in sorted(units, key=lambda u: d.unit_rank.get(u, u))]
    return rows, rest


def render_letters(rt: Runtime, day: DayPlan, letters: Sequence[Letter]) -> list[outbox.Queued]:
    """The complete MIME message of each letter, ready for the outbox, then the letters' IM/SMS rows where
    `[channels]` asks for them. Pure rendering, no writes."""
    settings = rt.settings
    d = day.directory
    assert d is not None
    max_age = timedelta(days=settings.web.link_max_age_days)
    portal = settings.public_url.rstrip("/")
    audience_names = labels()["audience"]
    cal = rt.calendar
    files: dict[str, tuple[Attachment, bytes]] = {}
    out: list[outbox.Queued] = []
    links: dict[int, Callable[[str], str]] = {}  # the IM cards link with the same signed token
    for letter in letters:
        link: Callable[[str], str]
        if letter.person_id is not None:  # signed for this person: opening it signs them in
            link = login_links(portal, settings.secret, letter.person_id, now=day.now, max_age=max_age)
            links[letter.person_id] = link
        else:  # a command-office address without an account: plain links, the form asks to sign in
            link = lambda path: portal + path  # noqa: E731
        blocks, listed = _blocks(letter, day, link, cal, letter.person_id is not None)
        per_unit, other_units = _per_unit(letter, d)
        counts = kind_counts(letter.items)
        notices = _letter_notices(letter, day)
        ctx = {
            "today": day.today, "who": letter.name, "roles": sorted(letter.roles), "overseer": letter.overseer,
            "top": letter.top_kind, "total": len(letter.items), "listed": listed,
            "omitted": len(letter.items) - listed, "counts": counts, "units": len(letter.unit_ids),
            "scope": _scope(letter, d), "overdue": sum(1 for i in letter.items if (i.action.days or 0) > 0),
            "remind_dues": sorted({due for i in letter.items if i.action.kind == "remind"
                                   and (due := day.details[i.action.finding_id].due_date)}),
            "blocks": blocks, "per_unit": per_unit, "other_units": other_units,
            "kinds": [k for k in KINDS_BY_URGENCY if counts[k]],
            "colour": worst(day.colours.get(i.action.finding_id) for i in letter.items),
            "notices": [{"number": n.number, "reply_by": n.reply_by, "unit": d.units.get(n.unit_id, ""),
                         "file": Path(n.file).name} for n in notices],
            "portal": portal, "personal": letter.person_id is not None,
            "link_days": settings.web.link_max_age_days, "sender": settings.smtp.from_name,
        }
        subject = render_subject("mail/daily.subject.txt", **ctx)
        parts = {"from_addr": settings.smtp.from_addr, "from_name": settings.smtp.from_name, "to": letter.email,
                 "to_name": letter.name or audience_names.get(sorted(letter.roles)[0], ""), "subject": subject,
                 "text": render_context("mail/daily.txt", ctx), "html": render_context("mail/daily.html", ctx),
                 "now": day.now}
        ascii_path = letter.email.isascii() and settings.smtp.from_addr.isascii()
        data = build_message_bytes(**parts, attachments=_notice_files(notices, files, ascii_path) if notices else ())
        meta = {"top": letter.top_kind, "counts": {k: v for k, v in counts.items() if v}}
        if ctx["colour"]:
            meta["colour"] = ctx["colour"]
        if notices:
            meta["notices"] = [n.number for n in notices]
        out.append(outbox.Queued(letter.email, KIND, day.today, data, items=len(letter.items), meta=meta,
                                 subject=subject))
    out.extend(channel_rows(rt, day, letters, _scope, links))  # IM/SMS beside the mail (rectify/channels/)
    return out


class Spool(Sequence[outbox.Queued]):
    """Rendered letters parked in an anonymous temporary file between render and commit.

    A catch-up day can render a hundred thousand letters; holding their bytes would take gigabytes.
    The spool keeps only the headers in memory and reads each message back when the commit inserts it.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="rectify-daily-")  # noqa: SIM115 - closed by close()
        self._where: list[tuple[int, int]] = []
        self.headers: list[outbox.Queued] = []  # each letter without its bytes: for summaries

    def extend(self, rows: Sequence[outbox.Queued]) -> None:
        self._file.seek(0, os.SEEK_END)
        for q in rows:
            data = bytes(q.message) if isinstance(q.message, bytes | bytearray) else to_bytes(q.message)
            self._where.append((self._file.tell(), len(data)))
            self._file.write(data)
            self.headers.append(q.with_message(b""))

    def __len__(self) -> int:
        return len(self.headers)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        offset, size = self._where[i]
        self._file.seek(offset)
        return self.headers[i].with_message(self._file.read(size))

    def close(self) -> None:
        self._file.close()
