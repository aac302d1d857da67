"""Wiring: settings → engine, sessions, calendar and ladder. The edges (CLI, flows, web) build one."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

import pendulum
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rectify.config import ConfigError, Settings, load_settings
from rectify.core.ladder import Step, steps_from
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
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    calendar: WorkCalendar
    ladder: tuple[Step, ...] = field(default_factory=tuple)
    # The wall clock unless replaced: the demo simulates a month by setting this, nothing sleeps.
    clock: Callable[[], datetime] | None = None

    @property
    def tz(self) -> pendulum.Timezone:
        return pendulum.timezone(self.settings.timezone)

    def now(self) -> datetime:
        """The clock, read only at the edges; the core always receives it as a parameter."""
        return self.clock() if self.clock else pendulum.now(self.tz)

    def today(self) -> date:
        return self.now().date()

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings | None = None, **engine_kwargs: object) -> Runtime:
    settings = settings or load_settings()
    calendar = load_calendar(settings.holidays_file)
    engine = make_engine(settings.db_url, **engine_kwargs)
    return Runtime(settings, engine, session_factory(engine), calendar, steps_from(settings.ladder))
