"""A migrated database with one group and one finding per unit, all due on the same day: the small county the
process-level tests (serve, a PostgreSQL restart) start a real `rectify` against."""

from __future__ import annotations

from datetime import date

from rectify.config import Settings
from rectify.db import make_engine, migrate
from rectify.runtime import build_runtime
from tests.support import factory
from tests.support.keys import TEST_SECRET


def seed_county(url: str, unit_names: list[str], due: date) -> None:
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    rt = build_runtime(Settings(database_url=url, secret_key=TEST_SECRET))
    try:
        with rt.sessions() as s, s.begin():
            g, r = factory.group(s, members=1), factory.round_(s)
            for name in unit_names:
                factory.finding(s, unit=factory.unit(s, name), round=r, group=g, due=due)
    finally:
        rt.close()
