"""`rectify status`: what the database holds right now."""

from __future__ import annotations

from rectify.cli.main import app, console, user_errors


@app.command()
@user_errors
def status() -> None:
    """Print counts of units, people and findings by state."""
    from sqlalchemy import func, select

    from models import Finding, Person, Unit
    from rectify.db import is_initialised
    from rectify.runtime import build_runtime
    from rectify.templating import labels

    rt = build_runtime()
    try:
        if not is_initialised(rt.engine):
            console.print("the database is empty: run `rectify init` first")
            return
        with rt.sessions() as s:
            units = s.scalar(select(func.count()).select_from(Unit))
            people = s.scalar(select(func.count()).select_from(Person))
            by_state = dict(s.execute(select(Finding.state, func.count()).group_by(Finding.state)).all())
    finally:
        rt.close()
    console.print(f"database: {rt.engine.url.render_as_string(hide_password=True)}", highlight=False)
    console.print(f"units: {units}  people: {people}  findings: {sum(by_state.values())}")
    for state, label in labels()["state"].items():
        console.print(f"  {label} ({state}): {by_state.get(state, 0)}")
