"""Read side of the supervision practice on the form: extensions, sign-offs, 回头看 and 蓝/黄/红.

The rules are rectify.core.practice's and rectify.core.palette's; this module only gathers what a page
needs in a few queries (never one per row) and says, as a code the templates word, why an action is not
open to someone right now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Event, ExtensionRequest, Finding, Person, Unit
from rectify.core.lifecycle import ACTIVE, State
from rectify.core.palette import Palette
from rectify.core.practice import recheck_due_on
from rectify.core.workcal import CalendarError, WorkCalendar
from rectify.runtime import Runtime
from rectify.services.access import Viewer, visible
from rectify.services.colours import palette, refused_extension_ids

REOPEN_WORKING_DAYS = 10  # the new deadline a reopened finding gets unless the supervisor picks another
_ONE = timedelta(days=1)
_UNFINISHED = (State.OPEN, State.REJECTED, State.REPORTED)


def colour_of(p: Palette, *, state: str, due: date | None, level: int, refused: bool) -> str | None:
    """The finding's colour, or none when its deadline lies in a year the calendar does not know (a page
    must still show; the daily run reports such findings)."""
    try:
        return p.finding(state=state, due=due, level=level, extension_refused=refused)
    except CalendarError:
        return None


def extension_block(f: Finding, today: date, *, pending: bool, limit: int) -> str | None:
    """Why the unit may not ask for more time now, in check_extension_request's order; None: it may."""
    if f.state not in ACTIVE:
        return "finished"
    if f.due_date is None:
        return "long_term"
    if today > f.due_date:
        return "passed"
    if pending:
        return "pending"
    if f.extensions_used >= limit:
        return "limit"
    return None


def recheck_on(f: Finding, rt: Runtime) -> date | None:
    """The working day the 回头看 of a closed finding falls due (None: not closed, or beyond the calendar)."""
    if f.state != State.CLOSED or f.closed_at is None:
        return None
    try:
        return recheck_due_on(f.closed_at.astimezone(rt.tz).date(), rt.calendar,
                              rt.settings.supervision.recheck_working_days)
    except CalendarError:
        return None


def recheck_before(cal: WorkCalendar, working_days: int, today: date, tz: tzinfo) -> datetime | None:
    """Closed before this instant ⇒ the 回头看 is due by `today`: `recheck_on`'s rule as one bound a list
    query can use. None when the calendar does not reach back far enough."""
    try:
        day = cal.add_working_days(today, -working_days - 1)  # due before today; the next days may be too
        while recheck_due_on(day + _ONE, cal, working_days) <= today:
            day = day + _ONE
    except CalendarError:
        return None
    return datetime.combine(day + _ONE, time(), tzinfo=tz)


def reopen_default(cal: WorkCalendar, today: date) -> date | None:
    try:
        return cal.add_working_days(today, REOPEN_WORKING_DAYS)
    except CalendarError:
        return None


@dataclass
class Practice:
    """Everything the finding page shows about extensions, signatures and 回头看."""

    colour: str | None
    requests: list[ExtensionRequest]
    pending: ExtensionRequest | None
    names: dict[int, str]  # people this page names, by id
    extension_block: str | None
    limit: int
    two_level: bool
    needs_signoff: bool  # reported in a two-level round, the unit head has not signed yet
    recheck_on: date | None
    recheck_due: bool
    reopen_due: date | None
    units: list[tuple[int, str]] = field(default_factory=list)  # where an admin may move it


def practice_of(s: Session, rt: Runtime, f: Finding, today: date, *, may_reassign: bool,
                has_requests: bool = True) -> Practice:
    """`has_requests` False: the page knows there is no extension request (web.queries.load_page)."""
    requests = list(s.scalars(select(ExtensionRequest).where(ExtensionRequest.finding_id == f.id)
                              .order_by(ExtensionRequest.id))) if has_requests else []
    pending = next((r for r in requests if r.state == "pending"), None) if f.state in _UNFINISHED else None
    decided = [r for r in requests if r.state != "pending"]
    refused = bool(decided) and decided[-1].state == "refused"
    # 签收 by (web.followup) too: the page's names in one query
    ids = ({i for r in requests for i in (r.requested_by_id, r.decided_by_id)}
           | {f.head_signed_by_id, f.closed_by_id, f.acknowledged_by_id})
    ids.discard(None)
    names: dict[int, str] = {}
    if ids:
        names = {pid: name for pid, name in s.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))}
    limit = rt.settings.supervision.max_extensions
    due_on = recheck_on(f, rt)
    units = []
    if may_reassign:
        units = [(uid, name) for uid, name in s.execute(select(Unit.id, Unit.name).order_by(Unit.sort_order, Unit.id))
                 if uid != f.unit_id]
    two_level = f.round.two_level_closure
    return Practice(
        colour=colour_of(palette(rt, today), state=f.state, due=f.due_date, level=f.level, refused=refused),
        requests=requests, pending=pending, names=names,
        extension_block=extension_block(f, today, pending=pending is not None, limit=limit), limit=limit,
        two_level=two_level, needs_signoff=two_level and f.state == State.REPORTED and f.head_signed_at is None,
        recheck_on=due_on, recheck_due=due_on is not None and due_on <= today and f.rechecked_at is None,
        reopen_due=reopen_default(rt.calendar, today), units=units)


def _day(raw: Any) -> date | None:
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def event_facts(e: Event) -> dict[str, Any]:
    """An event's data as the history wording needs it: dates as dates (events store ISO strings)."""
    data = e.data or {}
    facts: dict[str, Any] = {k: _day(data.get(k)) for k in ("due", "new_due", "proposed", "reply_by", "due_on",
                                                            "ack_due_on")}
    facts.update({k: data.get(k) for k in ("from_unit", "to_unit", "kind", "days", "reason", "on_time")})
    return facts


def pending_ids(s: Session, finding_ids: Sequence[int]) -> set[int]:
    """Which of these findings have an extension request waiting for a decision (one query)."""
    if not finding_ids:
        return set()
    return set(s.scalars(select(ExtensionRequest.finding_id).where(
        ExtensionRequest.state == "pending", ExtensionRequest.finding_id.in_(list(finding_ids)))))


def unit_colours(s: Session, viewer: Viewer, p: Palette) -> dict[int, str | None]:
    """Each unit's colour over the findings this viewer may see: two queries, whatever the county's size."""
    rows = s.execute(select(Finding.id, Finding.unit_id, Finding.state, Finding.due_date, Finding.level)
                     .where(visible(viewer), Finding.state.in_([st.value for st in ACTIVE]))).all()
    refused = refused_extension_ids(s) if rows else set()
    pairs = ((r.unit_id, colour_of(p, state=r.state, due=r.due_date, level=r.level, refused=r.id in refused))
             for r in rows)
    return p.units(pairs)  # type: ignore[return-value]
