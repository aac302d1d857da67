"""Engines, sessions and migrations. SQLite is the embedded default; PostgreSQL works the same."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from rectify.config import ConfigError

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"
T = TypeVar("T")
log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 30  # how long a SQLite connection waits for another writer before giving up


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine with the per-connection settings Rectify relies on."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database_url {url!r} is not a database URL: use sqlite:////path/rectify.db or "
                          "postgresql://user:password@host/dbname") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"database_url {parsed.render_as_string()!r}: only sqlite and postgresql are supported")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create the database folder {folder} ({exc.strerror}): check data_dir "
                                  "or database_url") from None
        # The driver's own transaction handling stays: it begins a transaction at the first write, so a
        # read never holds a snapshot that a later write in the same session would find stale (that fails
        # at once, whatever the busy timeout); a write waits up to BUSY_TIMEOUT_S for the other writer.
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def refresh_statistics(engine: Engine) -> None:
    """SQLite: sample the tables for the query planner (`ANALYZE`, at most ANALYSIS_LIMIT rows per index).

    Without statistics SQLite takes any index over a scan, e.g. the state index to read every closed finding
    when the partial closed_at index would read a handful. PostgreSQL's autovacuum keeps its own statistics.
    A database busy beyond the busy timeout keeps the old statistics: never worth failing a run for."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            conn.exec_driver_sql("ANALYZE")
    except OperationalError as exc:
        log.warning("planner statistics not refreshed (%s)", _first_line(exc))


ANALYSIS_LIMIT = 2_000  # rows sampled per index: milliseconds at a million findings, and enough for the planner


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")  # wait for the writer, never fail at once
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the form) never block the daily writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def reading(engine: Engine) -> Connection:
    """A connection for work that only reads (the form's pages and sign-in checks), or whose writes are each
    one atomic statement (the form's 销号 on PostgreSQL, `services.findings.act_row`), to use in `with`.

    On PostgreSQL in autocommit: no BEGIN before the first statement and no ROLLBACK when it goes back to
    the pool, two of a page's five round trips; each statement still reads committed data, as it would
    inside the default READ COMMITTED transaction. SQLite's driver begins no transaction for reads anyway."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str):  # -> alembic.config.Config
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to head. Returns (revision before, revision after); a no-op at head."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with engine.connect() as conn:
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after or ""


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("findings")


def describe_db_error(exc: DBAPIError) -> str:
    """One line for a database failure a user can act on (server down, read-only file, lost connection)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        return f"database error: {text}: make the database file and its folder writable for this user"
    if "unable to open" in low:
        return f"database error: {text}: check data_dir / database_url and the folder's permissions"
    if (isinstance(exc.orig, Exception) and type(exc.orig).__module__.startswith("psycopg")) or "connect" in low \
            or "terminat" in low or "server closed" in low:
        return f"database unavailable: {text}: is the PostgreSQL server running and database_url right? " \
               "(run the command again once it is back)"
    return f"database error: {text}"


RETRY_SECONDS = 30.0  # how long a lost PostgreSQL connection is retried (a restart takes a few seconds)


def transient(exc: BaseException) -> bool:
    """A PostgreSQL connection lost or refused (a restart, a failover): worth trying again shortly.

    SQLite errors are not: a locked database already waited for the busy timeout, a read-only file stays so."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    from_psycopg = type(orig).__module__.startswith("psycopg")
    return bool(exc.connection_invalidated) or (from_psycopg and isinstance(exc, OperationalError | InterfaceError))


def retrying(fn: Callable[..., T], *, budget: float = RETRY_SECONDS, first: float = 0.25) -> Callable[..., T]:
    """`fn` tried again, with a growing pause, while it fails with a transient database error and
    `budget` seconds have not passed; then the error goes to the caller (one line in the CLI, exit 2).

    Only for work that is safe to repeat: a read, an idempotent write, or one transaction whose
    compare-and-set refuses what already happened (a commit whose outcome was lost)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        deadline = time.monotonic() + budget
        pause = first
        while True:
            try:
                return fn(*args, **kwargs)
            except DBAPIError as exc:
                if not transient(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("database connection lost (%s); trying again in %.1f s", _first_line(exc), pause)
                time.sleep(pause)
                pause = min(pause * 2, 4.0)

    return call


def _first_line(exc: DBAPIError) -> str:
    lines = str(exc.orig or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
