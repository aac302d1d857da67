"""`rectify web`: serve the supervisors' form; `rectify api-token`: a token for the JSON API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from rectify.cli.main import app, console, user_errors
from rectify.config import ConfigError


@app.command()
@user_errors
def web(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: web.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: web.port).")] = None,
) -> None:
    """Serve the form (units report, supervisors verify and close) and the JSON API."""
    import uvicorn

    from rectify.db import is_initialised
    from rectify.runtime import build_runtime
    from web.app import ENGINE_KWARGS, create_app

    rt = build_runtime(**ENGINE_KWARGS)
    try:
        _ = rt.settings.secret  # sessions and links are signed with it: refused when empty or weak
        if not is_initialised(rt.engine):
            raise ConfigError("the database is empty: run `rectify init` first")
        host = host or rt.settings.web.host
        port = port or rt.settings.web.port
        console.print(f"form at http://{host}:{port}/ (links in mails use {rt.settings.public_url})", highlight=False)
        uvicorn.run(create_app(rt), host=host, port=port, log_level="info", proxy_headers=True)
    finally:
        rt.close()


@app.command("api-token")
@user_errors
def api_token(
    email: Annotated[str, typer.Argument(help="The person the token acts as.")],
    days: Annotated[int, typer.Option(min=1, max=3660, help="Valid for this many days.")] = 90,
) -> None:
    """Print a bearer token for the JSON API, bound to one person (same rights as on the form)."""
    from sqlalchemy import func, select

    from models import Person
    from rectify.links import sign
    from rectify.runtime import build_runtime
    from web.auth import API_PURPOSE

    rt = build_runtime()
    try:
        with rt.sessions() as s:
            person = s.scalar(select(Person).where(func.lower(Person.email) == email.strip().lower()))
            if person is None or not person.active:
                raise ConfigError(f"no active person with the e-mail address {email!r}")
            token = sign(rt.settings.secret, person.id, now=rt.now(), max_age=timedelta(days=days),
                         purpose=API_PURPOSE)
    finally:
        rt.close()
    typer.echo(token)
