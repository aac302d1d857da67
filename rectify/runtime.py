"""Wiring: settings → engine, sessions, calendar and ladder. The edges (CLI, flows, web) build one."""

from __future__ import annotations

import os
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

import pendulum
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rectify.config import ConfigError, Settings, ensure_private_dir, load_settings
from rectify.core.ladder import Step, steps_from
from rectify.core.provisional import provisional_through
from rectify.core.workcal import CalendarError, WorkCalendar, package_calendar, parse_holiday_table
from rectify.db import make_engine, session_factory


@cache
def _package_calendar() -> WorkCalendar:
    return package_calendar()


def load_calendar(holidays_file: Path | None) -> WorkCalendar:
    """The package's years, plus (and overridden by) the years in the user's holiday file."""
    base = _package_calendar()
    if holidays_file is None:
        return base
    try:
        table = tomllib.loads(Path(holidays_file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"key 'holidays_file': {holidays_file} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"key 'holidays_file': {holidays_file} is not valid TOML: {exc}") from None
    try:
        return base.merged(parse_holiday_table(table, str(holidays_file)))
    except CalendarError as exc:
        raise ConfigError(f"key 'holidays_file': {exc}") from None


@dataclass
class Runtime:
    """Settings, database and the working-day calendar every edge shares.

    The calendar is merged in one order everywhere: package data < holidays_file < notices imported into
    the database, then provisional years for what nobody knows yet. Imported years live in the database,
    so a long-running process (the form) re-reads them every `calendar.refresh_seconds`.
    """

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    base_calendar: WorkCalendar  # package data and holidays_file: fixed for the process
    ladder: tuple[Step, ...] = field(default_factory=tuple)
    # The wall clock unless replaced: the demo simulates a month by setting this, nothing sleeps.
    clock: Callable[[], datetime] | None = None
    _calendar: WorkCalendar | None = field(default=None, repr=False)
    _stamp: object = field(default=None, repr=False)
    _checked: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def calendar(self) -> WorkCalendar:
        """The merged calendar; re-read from the database when an import changed it."""
        ttl = self.settings.calendar.refresh_seconds
        if self._calendar is None or time.monotonic() - self._checked >= ttl:
            self.refresh_calendar()
        assert self._calendar is not None
        return self._calendar

    def refresh_calendar(self, force: bool = False) -> WorkCalendar:
        from rectify import holiday_cache
        from rectify.services.calendar import imported_calendar, imported_stamp

        with self._lock:
            stamp = imported_stamp(self.engine)
            if force or self._calendar is None or stamp != self._stamp:
                cal = self.base_calendar
                imported = imported_calendar(self.engine)
                if imported is not None:
                    cal = cal.merged(imported)
                ahead = self.settings.calendar.provisional_years
                self._calendar = holiday_cache.kept(lambda: provisional_through(cal, ahead))
                self._stamp = stamp
            self._checked = time.monotonic()
            return self._calendar

    @property
    def tz(self) -> pendulum.Timezone:
        return _zone(self.settings.timezone)

    def now(self) -> datetime:
        """The clock, read only at the edges; the core always receives it as a parameter."""
        return self.clock() if self.clock else pendulum.now(self.tz)

    def today(self) -> date:
        return self.now().date()

    def close(self) -> None:
        self.engine.dispose()


def secure_data(settings: Settings) -> None:
    """Files this process creates are for its user only (umask 077), and the data folder (and an
    outbox elsewhere) is 0700: the database, outbox .eml files with sign-in links, evidence,
    bulletins, notices and ledgers are nobody else's to read (issue 13.5)."""
    os.umask(0o077)
    ensure_private_dir(settings.data_dir)
    if settings.outbox_dir is not None:
        ensure_private_dir(settings.outbox_dir)


def tighten_existing(settings: Settings) -> int:
    """`rectify init` on an older install: folders 0700 and files 0600 under the data folder and the
    outbox, and the SQLite file. Returns how many modes changed."""
    changed = 0
    roots = {settings.data_dir, settings.outbox_path}
    paths = [p for root in roots if root.exists() for p in (root, *root.rglob("*"))]
    if settings.db_url.startswith("sqlite:///"):
        db = Path(settings.db_url.removeprefix("sqlite:///"))
        paths += [p for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")) if p.exists()]
    for p in paths:
        if p.is_symlink():
            continue
        want = 0o700 if p.is_dir() else 0o600
        if p.stat().st_mode & 0o777 & ~want:
            p.chmod(p.stat().st_mode & want)
            changed += 1
    return changed


def build_runtime(settings: Settings | None = None, **engine_kwargs: object) -> Runtime:
    settings = settings or load_settings()
    secure_data(settings)
    calendar = load_calendar(settings.holidays_file)  # package < holidays_file; notices merged by Runtime
    engine = make_engine(settings.db_url, **engine_kwargs)
    return Runtime(settings, engine, session_factory(engine), calendar, steps_from(settings.ladder))


@cache
def _zone(name: str) -> pendulum.Timezone:
    """pendulum builds a zone object per call (~0.1 ms): the form asks for it several times per request."""
    return pendulum.timezone(name)
