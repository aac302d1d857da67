"""Engines, sessions and migrations. SQLite is the embedded default; PostgreSQL works the same."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from rectify.config import ConfigError

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"
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


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")  # wait for the writer, never fail at once
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the form) never block the daily writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


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
