"""`rectify serve`: everything on one machine — the schedules (daily reminders, weekly digest) and the form."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Any

from rectify.cli.main import app, console, user_errors


class _WebThread:
    """The form (web.app.create_app) under uvicorn in a background thread of this process."""

    def __init__(self, asgi_app: Any, host: str, port: int, options: dict[str, Any]) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(asgi_app, host=host, port=port, log_level="warning",
                                                    **options))
        self.thread = threading.Thread(target=self.server.run, name="rectify-web", daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                from rectify.config import ConfigError

                raise ConfigError("the form could not start: is web.port already in use?")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _load_web():
    try:
        from web.app import create_app
    except ImportError:
        return None
    return create_app


def _drain_prefect_logs(timeout: float = 10.0) -> None:
    """Send the log lines Prefect still holds for its API (the runner's, about the cancelled run)."""
    try:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=timeout, at_exit=False)
    except Exception:  # a log line is not worth a failed stop
        pass


@app.command()
@user_errors
def serve() -> None:
    """Run the schedules and the form until Ctrl+C.

    Schedules: `daily-reminders` (schedule.daily_cron) and `weekly-digest` (schedule.digest_cron), in
    `timezone`. They need a Prefect API: PREFECT_API_URL if set, else a local Prefect server that this
    command starts (PREFECT_HOME under the data folder) and stops again on exit.
    """
    import os

    from rectify.config import ConfigError
    from rectify.db import is_initialised
    from rectify.runtime import build_runtime
    from rectify.serving import (
        LocalPrefectServer,
        ServeError,
        api_healthy,
        deployments,
        prefect_home,
        record_server,
        schedules,
        stop_orphan,
    )

    rt = build_runtime()
    server: LocalPrefectServer | None = None
    web: _WebThread | None = None
    recorded = None
    try:
        if not is_initialised(rt.engine):
            raise ConfigError("the database is empty: run `rectify init` first")
        settings = rt.settings
        _ = settings.secret  # generated before anything signs links or sessions
        api = os.environ.get("PREFECT_API_URL")
        if api:
            if not api_healthy(api):
                raise ServeError(f"PREFECT_API_URL is {api}, which does not answer; start that server or unset it")
            ui = api.rsplit("/api", 1)[0] + "/"
        else:
            orphan = stop_orphan(prefect_home(settings))
            if orphan:
                console.print(f"stopped the Prefect server (pid {orphan}) a previous `rectify serve` left running",
                              highlight=False)
            console.print("starting a local Prefect server …", highlight=False)
            server = LocalPrefectServer(prefect_home(settings), port=settings.schedule.prefect_port).start()
            api, ui = server.url, server.ui_url
        recorded = record_server(settings, api)

        create_app = _load_web()
        if create_app is not None:
            from web.server import uvicorn_options

            web = _WebThread(create_app(rt), settings.web.host, settings.web.port, uvicorn_options(settings))
            web.start()

        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        import asyncio

        from prefect.runner import Runner
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api}):
            served, missing = deployments(settings)
            # What prefect.serve does, with the deployments registered before we say we are ready.
            runner = Runner(pause_on_shutdown=True)  # stopped schedules do not pile up late runs
            for d in served:
                runner.add_deployment(d)
            if web is not None:
                console.print(f"form:      http://{settings.web.host}:{settings.web.port}/ "
                              f"(links in mails use {settings.public_url})", highlight=False)
            else:
                console.print("form:      not available (the web package is not installed)", highlight=False)
            where = (f"SMTP {settings.smtp.host}:{settings.smtp.port}" if settings.smtp_configured
                     else f".eml files in {settings.outbox_path.resolve()}")
            console.print(f"mail:      {where}", highlight=False)
            console.print(f"prefect:   {ui} ({'local server, stopped on exit' if server else 'PREFECT_API_URL'})",
                          highlight=False)
            for name, (cron, tz) in schedules(settings).items():
                state = "not available" if name in missing else f"'{cron}' {tz}"
                console.print(f"schedule:  {name} {state}", highlight=False)
            console.print("Press Ctrl+C to stop.", highlight=False)
            # `kill` and Ctrl+C both take the runner's graceful way out: it sends SIGTERM to a running flow's
            # process and waits for it, so a send in progress settles its rows (rectify.mail.deliver) instead of
            # being killed with them `sending`. (The runner sets the same SIGTERM handler when it starts.)
            signal.signal(signal.SIGTERM, lambda *_: runner.handle_sigterm())
            signal.signal(signal.SIGINT, lambda *_: runner.handle_sigterm())
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(runner.start())
        console.print("stopping …", highlight=False)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if web is not None:
            web.stop()
        if server is not None:
            _drain_prefect_logs()  # the runner's last lines reach the server before it stops, not stderr
            server.stop()
        if recorded is not None:
            recorded.unlink(missing_ok=True)
        rt.close()
    console.print("stopped", highlight=False)
