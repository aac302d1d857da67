"""The outbox: record, claim, mark. A message is a row before it is ever sent.

Exactly-once per (recipient, day, kind) rests on the unique dedupe key; delivery is claimed with a
compare-and-set so two workers never send the same row (PostgreSQL: FOR UPDATE SKIP LOCKED). A claim has an
owner and a lease (rectify.mail.lease): the sender renews it while it works, and marks each message sent as
soon as the server accepts it, so a crash repeats at most the messages that were on the wire.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import OutboxBody, OutboxMessage
from rectify.mail import claims, lease
from rectify.mail.compose import to_bytes
from rectify.mail.states import FAILED as FAILED  # the states, where callers have always found them
from rectify.mail.states import PENDING as PENDING
from rectify.mail.states import SENDING as SENDING
from rectify.mail.states import SENT as SENT

MAIL = "mail"  # the channel of record; IM and SMS rows (rectify/channels/) carry their channel's name


def dedupe_key(recipient: str, day: date, kind: str, channel: str = MAIL) -> str:
    """recipient|day|kind for mail (as before channels existed), recipient|day|kind|channel otherwise."""
    key = f"{recipient.strip().lower()}|{day.isoformat()}|{kind}"
    return key if channel == MAIL else f"{key}|{channel}"


@dataclass(frozen=True)
class Queued:
    recipient: str
    kind: str
    day: date
    message: EmailMessage | bytes  # bytes: already serialised (big batches keep no message objects)
    items: int = 0
    meta: dict[str, Any] | None = None
    key_suffix: str = ""  # for kinds that may legitimately repeat within a day (e.g. sign-in links)
    subject: str = ""  # required with bytes; read from the message otherwise
    channel: str = MAIL  # mail, or an IM/SMS channel: then `message` is the rendered JSON payload

    def __post_init__(self) -> None:
        _check_subject(self.message, self.subject)

    def with_message(self, message: EmailMessage | bytes) -> Queued:
        """This row with another message, checked as a new one would be: dataclasses.replace without its
        walk over the fields on every call (2.6 µs against 0.5 µs), which the daily run's spool makes twice
        for each of its thousands of rows."""
        _check_subject(message, self.subject)
        row = object.__new__(Queued)
        row.__dict__.update(self.__dict__, message=message)
        return row


def _check_subject(message: EmailMessage | bytes, subject: str) -> None:
    if isinstance(message, bytes | bytearray) and not subject:
        raise ValueError("a pre-serialised message needs its subject")


def _insert_ignore(session: Session):
    dialect = session.get_bind().dialect.name
    mod = postgresql if dialect == "postgresql" else sqlite
    # RETURNING tells which rows were new on both backends (rowcount is unreliable for executemany), and
    # their ids, under which their messages go in.
    stmt = mod.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return stmt.returning(OutboxMessage.id, OutboxMessage.dedupe_key)


_BODIES = OutboxBody.__table__.insert()


def enqueue(session: Session, rows: Iterable[Queued], now: datetime) -> int:
    """Insert the messages whose key is new; returns how many were new. Existing keys are left alone."""
    values = []
    bodies: dict[str, bytes] = {}
    for q in rows:
        key = dedupe_key(q.recipient, q.day, q.kind, q.channel) + q.key_suffix
        bodies.setdefault(key, bytes(q.message) if isinstance(q.message, bytes | bytearray) else to_bytes(q.message))
        values.append({
            "dedupe_key": key,
            "channel": q.channel,
            "recipient": q.recipient.strip().lower(),
            "kind": q.kind,
            "day": q.day,
            "subject": (q.subject or str(q.message["Subject"]))[:500],  # type: ignore[index]
            "items": q.items,
            "meta": q.meta or {},
            "state": PENDING,
            "attempts": 0,
            "last_error": "",
            "created_at": now,
        })
    if not values:
        return 0
    conn = session.connection()
    stmt = _insert_ignore(session)
    new = 0
    for i in range(0, len(values), 500):
        made = conn.execute(stmt, values[i:i + 500]).all()
        if made:
            conn.execute(_BODIES, [{"id": row_id, "message": bodies[key]} for row_id, key in made])
        new += len(made)
    return new


def claim(session: Session, *, worker: str, now: datetime, limit: int = 200,
          lease_for: timedelta = lease.LEASE, ids: Sequence[int] | None = None,
          exclude: Iterable[int] = (), where: ColumnElement[bool] | None = None,
          channels: Sequence[str] = (MAIL,), columns: Sequence[Any] = ()) -> list[Any]:
    """Take up to `limit` deliverable rows of these channels (channel by channel, each in id order) for this
    worker under a lease, and commit the claim: rectify.mail.claims.claim, the senders' one compare-and-set.

    `where` narrows the rows further (a kind). A live owner's rows are never taken while its lease runs; a
    dead owner's rows on this host are taken at once. Mail senders get mail rows only unless they ask.
    Returns the rows as OutboxMessage objects, or as plain tuples of `columns` when given. The senders call
    rectify.mail.claims itself (plain tuples straight from the claim's UPDATE … RETURNING).
    """
    conn = session.connection()
    chosen: list[int] = []
    exclude = list(exclude)
    for channel in channels:
        if len(chosen) >= limit:
            break
        chosen += [r[0] for r in claims.claim(conn, channel, worker=worker, now=now, limit=limit - len(chosen),
                                              ids=ids, exclude=exclude, lease_for=lease_for, returning=(),
                                              where=where)]
    session.commit()
    if not chosen:
        return []
    mine = OutboxMessage.id.in_(chosen)
    if columns:
        return list(session.execute(select(*columns).where(mine).order_by(OutboxMessage.id)))
    return list(session.scalars(select(OutboxMessage).where(mine).order_by(OutboxMessage.id)
                                .execution_options(populate_existing=True)))


def count_pending(session: Session, *, where: ColumnElement[bool] | None = None) -> int:
    q = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == PENDING)
    return session.scalar(q.where(where) if where is not None else q) or 0


def renew(session: Session, *, worker: str, until: datetime) -> int:
    """Push this worker's lease forward (its sender is alive and working)."""
    res = session.execute(update(OutboxMessage)
                          .where(OutboxMessage.claimed_by == worker, OutboxMessage.state == SENDING)
                          .values(lease_until=until).execution_options(synchronize_session=False))
    return res.rowcount or 0


def release(session: Session, ids: Sequence[int], *, worker: str, error: str = "") -> int:
    """Give claimed, unsent rows back to the queue as they were (an interrupt, or a configuration problem)."""
    if not ids:
        return 0
    res = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == SENDING, OutboxMessage.claimed_by == worker)
        .values(state=PENDING, claimed_by=None, claimed_at=None, lease_until=None,
                attempts=OutboxMessage.attempts - 1, **({"last_error": error[:2000]} if error else {}))
        .execution_options(synchronize_session=False)
    )
    return res.rowcount or 0


@dataclass(frozen=True)
class InFlight:
    """Rows another sender holds: who, how many, until when (reported, never taken while it lives)."""

    owner: str
    count: int
    lease_until: datetime | None


def in_flight(session: Session, *, besides: str = "", where: ColumnElement[bool] | None = None) -> list[InFlight]:
    q = (select(OutboxMessage.claimed_by, func.count(), func.max(OutboxMessage.lease_until))
         .where(OutboxMessage.state == SENDING, OutboxMessage.claimed_by != besides)
         .group_by(OutboxMessage.claimed_by).order_by(OutboxMessage.claimed_by))
    if where is not None:
        q = q.where(where)
    return [InFlight(o or "?", n, u) for o, n, u in session.execute(q)]


_T = OutboxMessage.__table__
# Built once: a send marks hundreds of times a run, and building the statement cost more than running it.
_MARK_SENT = (update(_T)
              .where(_T.c.id.in_(bindparam("ids", expanding=True)), _T.c.state == SENDING,
                     _T.c.claimed_by == bindparam("worker"))
              .values(state=SENT, sent_at=bindparam("now", type_=_T.c.sent_at.type), last_error="",
                      lease_until=None))


_SQLITE_MARK_MAX = 500  # ids per statement on the driver path (SQLite's variable limit is far above)


@functools.lru_cache(maxsize=128)
def _sqlite_mark_sent(n: int) -> str:
    """_MARK_SENT for `n` ids as SQLite's text (what it compiles to, ids expanded; tests/test_outbox.py
    compares the two). Run through the driver it skips SQLAlchemy's per-execution work - expanding the IN
    list, processing each parameter, setting up a result - about two thirds of a mark's CPU: a run marks
    a few hundred times (the letters, then each channel's rows)."""
    return ("UPDATE outbox SET state=?, lease_until=?, sent_at=?, last_error=? "
            f"WHERE outbox.id IN ({', '.join('?' * n)}) AND outbox.state = ? AND outbox.claimed_by = ?")


@functools.cache
def _stamp_bind(dialect: Any) -> Any:
    """sent_at's bind processor (UTC, then the dialect's storage form), as the compiled statement applies it."""
    return _T.c.sent_at.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)


def mark_sent(session: Session | Connection, ids: Sequence[int], *, worker: str, now: datetime) -> int:
    """Our own `sending` rows → sent (a session's or a plain connection's transaction)."""
    if not ids:
        return 0
    if isinstance(session, Connection) and session.dialect.name == "sqlite":
        stamp = _stamp_bind(session.dialect)(now)
        done = 0
        for i in range(0, len(ids), _SQLITE_MARK_MAX):
            part = list(ids[i:i + _SQLITE_MARK_MAX])
            done += session.exec_driver_sql(_sqlite_mark_sent(len(part)),
                                            (SENT, None, stamp, "", *part, SENDING, worker)).rowcount or 0
        return done
    return session.execute(_MARK_SENT, {"ids": list(ids), "worker": worker, "now": now}).rowcount or 0


def mark_error(session: Session, msg_id: int, error: str, *, worker: str, permanent: bool,
               max_attempts: int) -> str:
    """Back to pending (to retry) or failed (permanent, or out of attempts). Returns the new state."""
    row = session.get(OutboxMessage, msg_id)
    if row is None or row.state != SENDING or row.claimed_by != worker:
        return row.state if row else FAILED
    row.state = FAILED if permanent or row.attempts >= max_attempts else PENDING
    row.last_error = error[:2000]
    row.claimed_by = None
    row.claimed_at = None
    row.lease_until = None
    return row.state


def retry_failed(session: Session, ids: Sequence[int] | None = None, channels: Sequence[str] | None = None) -> int:
    """Put failed rows back in the queue (after fixing an address, say); all channels unless named."""
    q = update(OutboxMessage).where(OutboxMessage.state == FAILED)
    if channels:
        q = q.where(OutboxMessage.channel.in_(list(channels)))
    if ids:
        q = q.where(OutboxMessage.id.in_(ids))
    res = session.execute(q.values(state=PENDING, attempts=0).execution_options(synchronize_session=False))
    return res.rowcount or 0
