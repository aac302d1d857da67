"""Claim one channel's deliverable outbox rows: the outbox's compare-and-set, on a plain connection with
statements built once, returning plain tuples. The one claim of every sender: the mail delivery, the IM/SMS
dispatch and outbox.claim (which loads the rows it claimed as objects for the callers that want them).

The rows: pending, or `sending` whose owner died on this host or whose lease lapsed (never a live owner's),
in id order; PostgreSQL skips rows another claimer has locked (FOR UPDATE SKIP LOCKED); the UPDATE takes
only rows still deliverable, under this worker, a lease and one more attempt, and returns the columns the
sender asked for (one statement instead of an update and a read); the messages, which live in a table of
their own that no claim rewrites, come from one read by the ids taken.

Why not through an ORM session: building the statements anew and loading each row as an OutboxMessage cost
~20 ms of CPU per batch of 200 (the IM/SMS sender's fifth; the mail delivery's claims ~0.17 s of an ordinary
day's 1,661 letters). Only what a sender reads is returned: 钉钉's `meta` (its task ids are recorded beside
it) is a quarter of a claim's CPU to decode for channels that never read it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select, update

from models import OutboxBody, OutboxMessage
from rectify.mail import lease
from rectify.mail.states import PENDING, SENDING

_T = OutboxMessage.__table__
_C = _T.c
# The owners of this channel's rows being sent (a handful), on the (channel, state, id) index: all `sending`
# owners, by state alone, let SQLite walk the whole outbox when its statistics made the state look common.
_OWNERS = select(_C.claimed_by).where(_C.channel == bindparam("of_channel"), _C.state == SENDING).distinct()
_NOW = bindparam("now", type_=_C.claimed_at.type)
_B = OutboxBody.__table__.c
_BODIES = select(_B.id, _B.message).where(_B.id.in_(bindparam("taken", expanding=True)))


def _lapsed() -> Any:
    """A `sending` row another sender lost: its owner died on this host, or its lease lapsed (claimed before
    leases: after LEGACY_STALE) and its owner is not known alive on this host. The owners known alive and dead
    are bound as lists: an empty list of the living keeps no row back, an empty list of the dead adds none."""
    lapsed = or_(_C.lease_until < _NOW,
                 and_(_C.lease_until.is_(None), _C.claimed_at < bindparam("legacy", type_=_C.claimed_at.type)))
    return or_(and_(lapsed, _C.claimed_by.not_in(bindparam("alive", expanding=True))),
               _C.claimed_by.in_(bindparam("dead", expanding=True)))


@functools.cache
def _statements(dialect: str, among: bool, returning: tuple[str, ...]) -> tuple[Any, Any, Any]:
    """_build's statements without a caller's condition, built once per process: the senders' claims."""
    return _build(dialect, among, returning, None)


def _build(dialect: str, among: bool, returning: tuple[str, ...], where: Any) -> tuple[Any, Any, Any]:
    """(pending, lapsed, take) for a dialect; `among`: only rows of a given id list; `returning`: the columns
    take returns after the id; `where`: a further condition on the rows (a kind), or None.

    The rows are chosen in two reads, each on the (channel, state, id) index in id order: a read of
    `state IN (pending, sending) ORDER BY id` made SQLite walk the whole outbox (every letter ever sent, its
    message included) rather than sort what the index gives - 4 ms a claim at 3,000 rows, growing daily."""
    mine = (_C.channel == bindparam("of_channel"), _C.id.not_in(bindparam("exclude", expanding=True)))
    if among:
        mine += (_C.id.in_(bindparam("among", expanding=True)),)
    if where is not None:
        mine += (where,)
    reads = []
    for state, extra in ((PENDING, ()), (SENDING, (_lapsed(),))):
        q = select(_C.id).where(*mine, _C.state == state, *extra).order_by(_C.id).limit(bindparam("limit"))
        reads.append(q.with_for_update(skip_locked=True) if dialect == "postgresql" else q)
    # Compare-and-set: only rows still deliverable change hands.
    deliverable = and_(_C.channel == bindparam("of_channel"), _C.state.in_((PENDING, SENDING)),
                       or_(_C.state == PENDING, and_(_C.state == SENDING, _lapsed())))
    take = (update(_T).where(_C.id.in_(bindparam("chosen", expanding=True)), deliverable)
            .values(state=SENDING, claimed_by=bindparam("worker"), claimed_at=_NOW,
                    lease_until=bindparam("until", type_=_C.lease_until.type), attempts=_C.attempts + 1)
            .returning(_C.id, *(_C[name] for name in returning)))
    return reads[0], reads[1], take


def claim(conn: Connection, channel: str, *, worker: str, now: datetime, limit: int,
          ids: Sequence[int] | None = None, exclude: Collection[int] = (),
          lease_for: timedelta = lease.LEASE, returning: tuple[str, ...] = ("recipient", "message"),
          where: Any = None) -> list[tuple[Any, ...]]:
    """Up to `limit` deliverable rows of `channel` (among `ids` when given, never those in `exclude`, meeting
    `where` when given), now this worker's under a lease: (id, *returning) in id order. `conn` is in a
    transaction, which the caller commits."""
    # The message lies in outbox_bodies (models/outbox.py): read in a second statement, by the ids taken.
    row_columns = tuple(c for c in returning if c != "message")
    if where is None:
        pending, lapsed, take = _statements(conn.dialect.name, ids is not None, row_columns)
    else:  # a condition of the caller's: built for this claim (a kind: rare, never the daily run's)
        pending, lapsed, take = _build(conn.dialect.name, ids is not None, row_columns, where)
    owners = set(conn.scalars(_OWNERS, {"of_channel": channel}))
    dead, alive = lease.on_this_host(owners)
    values: dict[str, Any] = {"of_channel": channel, "now": now, "legacy": now - lease.LEGACY_STALE,
                              "alive": alive, "dead": dead}
    mine = {"of_channel": channel, "exclude": list(exclude), "limit": limit,
            **({"among": list(ids)} if ids is not None else {})}
    chosen = list(conn.scalars(pending, mine))
    if owners:  # no row of this channel is being sent: none can have lapsed
        chosen = sorted([*chosen, *conn.scalars(lapsed, {**values, **mine})])[:limit]
    if not chosen:
        return []
    rows = sorted((tuple(r) for r in conn.execute(take, {**values, "chosen": chosen, "worker": worker,
                                                           "until": now + lease_for})), key=lambda r: r[0])
    if row_columns == returning:
        return rows  # type: ignore[return-value]
    bodies = dict(conn.execute(_BODIES, {"taken": [r[0] for r in rows]}).all()) if rows else {}
    at = {name: i + 1 for i, name in enumerate(row_columns)}
    return [(r[0], *(bodies[r[0]] if name == "message" else r[at[name]] for name in returning)) for r in rows]
