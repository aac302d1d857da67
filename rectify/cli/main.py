"""`rectify`: the command line. Each subcommand is a thin edge over the services and flows."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer

from rectify import __version__

app = typer.Typer(
    name="rectify",
    help="Rectify: follow-up engine for inspection findings (整改督办).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: Typer's rich help loads rich.markdown (~0.3 s) for `--help`
    pretty_exceptions_enable=False,
    add_completion=False,
)


class _Console:
    """A rich Console made on first use, so `rectify --help` does not load rich."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._console: Any = None

    def rich(self) -> Any:  # -> rich.console.Console, for rich's own widgets (Progress)
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._kwargs)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich(), name)


console: Any = _Console()
err: Any = _Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_error_types() -> tuple[type[Exception], ...]:
    """Errors a user can act on: a clean message and exit code 2, never a traceback.

    Imported when an error is caught, not at start: `rectify --help` must not load SQLAlchemy and pydantic.
    """
    from rectify.bulletin.errors import BulletinError
    from rectify.config import ConfigError
    from rectify.core.notices import NoticeError
    from rectify.core.workcal import CalendarError
    from rectify.intake.errors import IntakeError
    from rectify.services.people import PeopleError
    from rectify.serving import ServeError

    return (ConfigError, CalendarError, BulletinError, IntakeError, ServeError, NoticeError, PeopleError)


def _report(exc: BaseException) -> int | None:
    """Print one line for an error the user can act on and return the exit code; None for anything else."""
    from rich.markup import escape
    from sqlalchemy.exc import DBAPIError

    from rectify.mail.interrupt import SendInterrupted

    if isinstance(exc, user_error_types()):
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        return 2
    if isinstance(exc, DBAPIError):  # the server down or restarted, a read-only file: one line, no traceback
        from rectify.db import describe_db_error

        err.print(f"error: {describe_db_error(exc)}", highlight=False, markup=False, soft_wrap=True)
        return 2
    if isinstance(exc, OSError):  # a folder that cannot be created or written
        where = f" {exc.filename}" if exc.filename else ""
        err.print(f"error: cannot use{where}: {exc.strerror or exc}: check the path and its permissions "
                  "(data_dir, outbox_dir, the file given)", highlight=False, markup=False, soft_wrap=True)
        return 2
    if isinstance(exc, SendInterrupted):  # a graceful stop: in-flight mail settled, the rest queued
        err.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        return exc.exit_code
    return None


def user_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (Exception, KeyboardInterrupt) as exc:  # SendInterrupted is a KeyboardInterrupt
            code = _report(exc)
            if code is None:
                raise
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]


def initialised_runtime():  # -> rectify.runtime.Runtime
    """The runtime for a command that needs the schema; a clear error before `rectify init`."""
    from rectify.config import ConfigError
    from rectify.db import is_initialised
    from rectify.runtime import build_runtime

    rt = build_runtime()
    if not is_initialised(rt.engine):
        rt.close()
        raise ConfigError("the database is empty: run `rectify init` first")
    return rt


def _version(value: bool) -> None:
    if value:
        console.print(f"rectify {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Rectify: follow-up engine for inspection findings (整改督办)."""


@app.command()
@user_errors
def init() -> None:
    """Create the database, or migrate it to the latest schema (safe to run again)."""
    from rectify.db import migrate
    from rectify.runtime import build_runtime, tighten_existing

    rt = build_runtime()
    try:
        _ = rt.settings.secret  # generated into the data folder on first run
        before, after = migrate(rt.engine)
        tightened = tighten_existing(rt.settings)
        if tightened:
            console.print(f"made {tightened} file(s) and folder(s) in the data folder private (0600/0700)",
                          highlight=False)
    finally:
        rt.close()
    url = rt.engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"database {url} is up to date (revision {after})", highlight=False)
    else:
        console.print(f"database {url} migrated {before or 'empty'} → {after}", highlight=False)


def run() -> None:  # pragma: no cover - console entry for `python -m rectify`
    sys.exit(app())


# Subcommand modules register themselves on `app`.
from rectify.cli import assess as _assess  # noqa: E402, F401
from rectify.cli import bulletin as _bulletin  # noqa: E402, F401
from rectify.cli import calendar as _calendar  # noqa: E402, F401
from rectify.cli import daily as _daily  # noqa: E402, F401
from rectify.cli import demo as _demo  # noqa: E402, F401
from rectify.cli import followup as _followup  # noqa: E402, F401
from rectify.cli import intake as _intake  # noqa: E402, F401
from rectify.cli import notices as _notices  # noqa: E402, F401
from rectify.cli import outbox as _outbox  # noqa: E402, F401
from rectify.cli import people as _people  # noqa: E402, F401
from rectify.cli import serve as _serve  # noqa: E402, F401
from rectify.cli import status as _status  # noqa: E402, F401
from rectify.cli import web as _web  # noqa: E402, F401
