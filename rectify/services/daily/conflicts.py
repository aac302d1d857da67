"""A lost race settled without re-planning the day: only the findings another run changed are planned again.

The day's commit is one transaction with a compare-and-set on what the run itself writes (levels, stamps).
When another run got to some findings first, the commit rolls back and names them (RunConflict.findings).
Instead of planning, rendering and numbering the whole day again, `resolve`:
- plans just those findings again from what they are now (one narrowed query each, rectify.services.daily.plan),
  and keeps every other action of the first plan;
- routes again (pure, in memory) around the addresses that got today's letter from the other run meanwhile
  (their items wait for the next working day, as in a normal plan);
- re-renders only the letters whose content changed, and keeps the other letters' rendered bytes.
The commit is then tried again: still one transaction, still compare-and-set, so a further race is settled
the same way, and a finding is never escalated twice nor a letter queued twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy import select

from models import OutboxMessage
from rectify.channels.enqueue import robot_rows
from rectify.core.notices import notice_batches
from rectify.core.routing import Letter, route, without
from rectify.mail import outbox
from rectify.runtime import Runtime
from rectify.services.daily import followup
from rectify.services.daily.letters import Spool, _letter_notices
from rectify.services.daily.plan import (
    KIND,
    RENDER_CHUNK,
    DayPlan,
    NoticeRef,
    RunConflict,
    Scan,
    _colours,
    _details,
    already_mailed,
    plan_actions,
)
from rectify.services.routing import load_directory

ONLY_LIMIT = 5_000  # more conflicting findings than this: one scan of all, narrowed here, beats a huge IN list
ROBOT = "robot:"  # recipient prefix of the 督导组 robot rows (rectify.channels.enqueue.robot_rows)


def replan(rt: Runtime, day: DayPlan, conflict: RunConflict) -> tuple[DayPlan, set[int]]:
    """The day with the conflicting findings planned again; returns it and the findings planned again.

    Reads only. Every action of other findings is kept as first planned; the routing is redone around the
    addresses already mailed today (by the other run)."""
    ids = sorted(conflict.findings)
    again = set(ids)
    scan = Scan()
    fresh, fresh_targets, fresh_before, fresh_replans = (
        plan_actions(rt, day.today, scan, ids if len(ids) <= ONLY_LIMIT else None) if ids else ([], {}, {}, {}))
    fresh = [a for a in fresh if a.finding_id in again]
    actions = [a for a in day.actions if a.finding_id not in again] + fresh
    targets = {**day.targets, **{f: t for f, t in fresh_targets.items() if f in again}}
    before = {**day.before, **{f: b for f, b in fresh_before.items() if f in again}}
    directory = day.directory
    assert directory is not None
    closers = {t.closer_id for t in targets.values() if t.closer_id is not None}
    if closers - set(directory.people):  # a 回头看 of a closer the first plan did not load
        with rt.sessions() as s:
            directory = load_directory(s, rt.settings.command_office, closers)
    routing = route(actions, targets, directory)
    mailed = already_mailed(rt, day.today) if routing.letters else set()
    deferred: list = []
    if mailed & set(routing.letters):
        kept, deferred = without(routing.delivered, routing, mailed)
        held, unreachable = routing.held, routing.unreachable
        routing = route(kept, targets, directory)
        routing.held, routing.unreachable = held, unreachable
    new_ids = sorted({a.finding_id for a in routing.delivered if a.finding_id in again
                      or a.finding_id not in day.details})
    details = {f: d for f, d in day.details.items() if f not in again} | _details(rt, new_ids)
    refreshed = set(new_ids) | again
    colours = ({f: c for f, c in day.colours.items() if f not in again}
               | _colours(rt, day.today, [a for a in routing.delivered if a.finding_id in refreshed], details))
    crossed = [(a.finding_id, targets[a.finding_id].unit_id, before[a.finding_id][0], a.level)
               for a in routing.delivered if a.step is not None]
    due_ids = sorted({a.finding_id for a in routing.delivered
                      if a.kind in followup.EVENTS and a.finding_id in refreshed})
    due_days = {f: d for f, d in day.due_days.items() if f not in again} | followup.due_days(rt, due_ids)
    missed = [m for m in day.progress_missed if m.finding_id not in again]
    missed += [m for m in followup.missed_progress(rt, day.today, scan.followups) if m.finding_id in again]
    replans = {f: r for f, r in day.replans.items() if f not in again} | {
        f: r for f, r in fresh_replans.items() if f in again}
    return replace(day, routing=routing, directory=directory, before=before, details=details, deferred=deferred,
                   colours=colours, notice_units=notice_batches(crossed, rt.ladder), progress_missed=missed,
                   due_days=due_days, replans=replans, actions=actions, targets=targets, channel_capped={},
                   # item words rendered for the first plan (letters._item), less those of findings read again
                   rendered_items={k: v for k, v in day.rendered_items.items() if k[0] not in refreshed}), refreshed


def _signature(letter: Letter, day: DayPlan) -> tuple:
    """What a letter's bytes are made of, besides the findings' own details (compared apart)."""
    return (letter.name, letter.person_id, frozenset(letter.roles), frozenset(letter.group_ids),
            tuple((i.action, i.unit_id, i.group_id) for i in letter.items),
            tuple(n.number for n in _letter_notices(letter, day)))


def changed_letters(old: DayPlan, new: DayPlan, refreshed: set[int]) -> set[str]:
    """Addresses whose letter is new, gone, or not what was rendered (items, roles, notices, details)."""
    before = old.routing.letters if old.routing else {}
    after = new.routing.letters if new.routing else {}
    out = set(before) ^ set(after)
    for email in set(before) & set(after):
        a, b = before[email], after[email]
        if (_signature(a, old) != _signature(b, new)
                or any(i.action.finding_id in refreshed for i in b.items)):
            out.add(email)
    return out


def _robot_keys_taken(rt: Runtime, day: DayPlan) -> set[str]:
    """Today's 督导组 robot summaries another run queued: ours would only be dropped by the outbox."""
    with rt.sessions() as s:
        return set(s.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.day == day.today, OutboxMessage.kind == KIND, OutboxMessage.recipient.like(ROBOT + "%"))))


def resolve(rt: Runtime, day: DayPlan, queued: Spool, conflict: RunConflict,
            render: Callable[[Runtime, DayPlan, Sequence[Letter]], list[outbox.Queued]],
            issue: Callable[[Runtime, DayPlan], dict[int, NoticeRef]]) -> tuple[DayPlan, Spool, int]:
    """Re-plan the conflicting findings, re-render the letters that changed, keep the rest of the spool.

    Returns the new plan, the new spool (the old one is closed) and how many letters were re-rendered."""
    new, refreshed = replan(rt, day, conflict)
    if set(new.notice_units) <= set(day.notices):  # 督办通知 are idempotent per unit and day: reuse them
        new.notices = {u: day.notices[u] for u in new.notice_units}
    else:
        new.notices = issue(rt, new)
    changed = changed_letters(day, new, refreshed)
    letters = [lt for email, lt in new.routing.letters.items() if email in changed] if new.routing else []
    taken = _robot_keys_taken(rt, new)
    spool = Spool()
    try:
        keep = [i for i, h in enumerate(queued.headers)
                if h.recipient not in changed and not h.recipient.startswith(ROBOT)]
        for i in range(0, len(keep), 500):
            spool.extend([queued[j] for j in keep[i:i + 500]])
        for i in range(0, len(letters), RENDER_CHUNK):
            spool.extend(render(rt, new, letters[i:i + RENDER_CHUNK]))
        spool.extend([q for q in robot_rows(rt, new, new.letters)
                      if outbox.dedupe_key(q.recipient, q.day, q.kind, q.channel) + q.key_suffix not in taken])
    except BaseException:
        spool.close()
        raise
    queued.close()
    return new, spool, len(letters)
