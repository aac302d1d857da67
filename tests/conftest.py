"""Shared fixtures: a database on both backends, settings in a temp folder, a real SMTP server.

`db` is parametrised over SQLite and PostgreSQL: every test that uses it runs on both.
With CI=true a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from models import Base
from rectify.config import Settings
from rectify.db import make_engine, migrate
from rectify.runtime import Runtime, build_runtime
from tests.support.keys import TEST_SECRET
from tests.support.pgserver import PgServer, PgUnavailable

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str, why: str) -> None:
    """Skip locally; fail in CI, where every component must be there."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI: {why}", pytrace=False)
    pytest.skip(f"{what} unavailable: {why}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    yield from serve_pg()


def serve_pg(durable: bool = False) -> Iterator[PgServer]:
    """A private PostgreSQL cluster for a fixture's life (missing in CI fails, elsewhere skips)."""
    server = PgServer(durable=durable)
    try:
        server.start()
    except PgUnavailable as exc:
        server.stop()
        missing("PostgreSQL", str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template_url(pg_server: PgServer) -> str:
    """One migrated database per session; tests get it truncated."""
    url = pg_server.create_database("rectify_test")
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "rectify.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_template_url")
    engine = make_engine(url)
    _truncate_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    data = tmp_path / "var"
    # Imported calendar years are re-read on refresh_calendar() (imports, each run), not on a wall-clock TTL:
    # a test's query counts must not depend on how loaded the machine is.
    return Settings(data_dir=data, database_url=db_url, secret_key=TEST_SECRET,
                    public_url="http://127.0.0.1:8400", command_office=["office@county.example"],
                    calendar={"refresh_seconds": 3600})


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def session(rt: Runtime):
    with rt.sessions() as s:
        yield s


@pytest.fixture
def smtp_sink():
    """A running aiosmtpd server on 127.0.0.1; `smtp_settings` points Rectify at it."""
    from tests.support.smtp import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_settings(settings: Settings, smtp_sink) -> Settings:
    from tests.support.smtp import pointed_at

    return pointed_at(settings, smtp_sink.port)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness (temporary API server and database), started once for all flow tests."""
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# Property tests must not flake on a loaded 2-core CI machine: no per-example deadline.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("rectify", deadline=None, print_blob=True)
_hypothesis_settings.load_profile("rectify")


@pytest.fixture
def flow_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Flows build their own runtime from RECTIFY_*: point those at this test's database and folders."""
    from tests.support.envvars import rectify_env

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECTIFY_CONFIG", raising=False)
    for key, value in rectify_env(settings).items():
        monkeypatch.setenv(key, value)
    return monkeypatch
