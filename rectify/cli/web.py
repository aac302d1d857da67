"""`rectify web`: serve the supervisors' form; `rectify api-token`: a token for the JSON API."""

from __future__ import annotations

from typing import Annotated

import typer

from rectify.cli.main import app, console, initialised_runtime, user_errors


@app.command()
@user_errors
def web(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: web.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: web.port).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Worker processes (default: the CPU cores).")
                       ] = None,
) -> None:
    """Serve the form (units report, supervisors verify and close) and the JSON API.

    Several worker processes share the port, each with its own socket on Linux (web/workers.py): a request
    costs a few ms of CPU under one interpreter lock, so one process cannot use a second core however many
    threads it has.
    """
    import os

    import uvicorn

    from rectify.config import ConfigError
    from rectify.db import is_initialised
    from rectify.memory import settle_for_serving
    from rectify.runtime import build_runtime
    from rectify.serving import port_problem
    from web.app import ENGINE_KWARGS, create_app
    from web.server import protocol_path, uvicorn_options
    from web.workers import Workers, balanced

    rt = build_runtime(**ENGINE_KWARGS)
    try:
        _ = rt.settings.secret  # sessions and links are signed with it: refused when empty or weak
        if not is_initialised(rt.engine):
            raise ConfigError("the database is empty: run `rectify init` first")
        host = host or rt.settings.web.host
        port = port or rt.settings.web.port
        problem = port_problem(host, port)
        if problem == "already in use":
            raise ConfigError(f"port {port} on {host} is already in use: stop what listens there, or pass --port "
                              "(or set web.port)")
        if problem:
            raise ConfigError(f"cannot listen on {host}:{port} ({problem}): pass --host (or set web.host)")
        console.print(f"form at http://{host}:{port}/ (links in mails use {rt.settings.public_url})", highlight=False)
        options = uvicorn_options(rt.settings)
        n = workers or os.cpu_count() or 1
        if n == 1:
            app = create_app(rt)
            settle_for_serving()  # as each worker does (web.app.from_settings)
            uvicorn.run(app, host=host, port=port, log_level="info", **options)
            return
    finally:
        rt.close()
    console.print(f"{n} worker processes", highlight=False)
    # Each worker builds its own runtime and protocol settings (web.app.from_settings) from the settings
    # this process checked; the protocol class goes by name, as the config is handed to the workers.
    options["http"] = protocol_path()
    if not balanced():  # one shared socket (web/workers.py: where the kernel would not spread connections)
        uvicorn.run("web.app:from_settings", factory=True, workers=n, host=host, port=port, log_level="info",
                    **options)
        return
    config = uvicorn.Config("web.app:from_settings", factory=True, workers=n, host=host, port=port,
                            log_level="info", **options)
    try:
        code = Workers(config, n).run()  # a listening socket per worker, one SO_REUSEPORT group
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): pass --port (or set web.port)"
                          ) from None
    if code:
        raise typer.Exit(code)


api_app = typer.Typer(help="Bearer tokens for the JSON API: issue, list, revoke.", no_args_is_help=True,
                      rich_markup_mode=None)
app.add_typer(api_app, name="api-token")


@api_app.command("issue")
@user_errors
def api_token_issue(
    email: Annotated[str, typer.Argument(help="The person the token acts as.")],
    days: Annotated[int, typer.Option(help="Valid for this many days (at most web.api_token_max_days).")] = 90,
    note: Annotated[str, typer.Option(help="What the token is for (shown by `list`).")] = "",
) -> None:
    """Print a bearer token for the JSON API, bound to one person (same rights as on the form)."""
    from rectify.db import transaction
    from rectify.services.revocation import issue_api_token

    rt = initialised_runtime()
    try:
        with transaction(rt.sessions) as s:
            issued = issue_api_token(s, rt.settings.secret, email, rt.now(), days=days,
                                     max_days=rt.settings.web.api_token_max_days, note=note)
    finally:
        rt.close()
    typer.echo(issued.token)


@api_app.command("list")
@user_errors
def api_token_list(email: Annotated[str | None, typer.Argument(help="Only this person's tokens.")] = None) -> None:
    """Every API token: id, person, issued, expires, and whether it was revoked."""
    from rectify.services.revocation import list_api_tokens

    rt = initialised_runtime()
    try:
        now = rt.now()
        with rt.sessions() as s:
            for t, p in list_api_tokens(s, email):
                state = ("revoked " + t.revoked_at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M") if t.revoked_at
                         else "expired" if t.expires_at < now else "active")
                console.print(f"{t.id:>5}  {p.email:<32} {t.created_at.astimezone(rt.tz):%Y-%m-%d} → "
                              f"{t.expires_at.astimezone(rt.tz):%Y-%m-%d}  {state}  {t.note}", highlight=False)
    finally:
        rt.close()


@api_app.command("revoke")
@user_errors
def api_token_revoke(token_id: Annotated[int, typer.Argument(help="The id `rectify api-token list` shows.")]) -> None:
    """Revoke one API token now."""
    from rectify.db import transaction
    from rectify.services.revocation import revoke_api_token

    rt = initialised_runtime()
    try:
        with transaction(rt.sessions) as s:
            row = revoke_api_token(s, token_id, rt.now())
            console.print(f"revoked API token {row.id}", highlight=False)
    finally:
        rt.close()
