"""Fixtures for the form: a small county on both backends, the app on a fixed clock, signed-in clients,
and (for the browser tests) Debian's chromium and a real uvicorn server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from rectify.runtime import Runtime
from tests.conftest import missing
from tests.web.helpers import NOW, World, build_world
from web.app import create_app


@pytest.fixture
def world(rt: Runtime) -> World:
    with rt.sessions() as s:
        w = build_world(s)
        s.commit()
    return w


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    return create_app(rt, clock=lambda: NOW)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """pytest-playwright launches Debian's chromium: Playwright's own browser download cannot be used."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        missing("chromium", "apt-get install -y chromium fonts-noto-cjk")
    return {"executable_path": exe, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn on a free 127.0.0.1 port, in a thread; yields the base URL."""
    from tests.web.helpers import LiveServer

    server = LiveServer(app).start()
    yield server.url
    server.stop()
