"""`rectify assess`: the 考评 ranking of units over a period, in the terminal and as an xlsx."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from rectify.cli.main import app, console, initialised_runtime, user_errors

_DAY = {"formats": ["%Y-%m-%d"], "metavar": "YYYY-MM-DD"}


@app.command()
@user_errors
def assess(
    start: Annotated[datetime | None, typer.Option("--from", **_DAY, help="First day of the period "
                                                   "(default: assessment.period_days days up to --to).")] = None,
    end: Annotated[datetime | None, typer.Option("--to", **_DAY, help="Last day of the period (default today).")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Also write the ranking to this .xlsx.")]
    = None,
) -> None:
    """Rank the units by their 考评 score (按期销号率, 逾期未整改, 督办/通报, 反弹, 签收, 进展反馈)."""
    from rich.table import Table

    from rectify.config import ConfigError
    from rectify.services.assessment import assess_runtime, period
    from rectify.services.assessment_export import header, period_text, text_rows, write_xlsx

    if out is not None and out.suffix.lower() != ".xlsx":
        raise ConfigError(f"--out {out}: the ranking is written as an .xlsx file")
    rt = initialised_runtime()
    try:
        first, last = period(end.date() if end else rt.today(), start.date() if start else None,
                             rt.settings.assessment.period_days)
        if last < first:
            raise ConfigError(f"--from {first} is after --to {last}")
        a = assess_runtime(rt, start=first, end=last)
    finally:
        rt.close()
    table = Table(title=period_text(a), title_justify="left")
    for i, col in enumerate(header()):
        table.add_column(col, justify="left" if i == 1 else "right", no_wrap=i != 1)
    for row in text_rows(a.ranking):
        table.add_row(*row)
    console.print(table)
    if not a.ranking:
        console.print("no unit has findings in this period: nothing to rank")
    if out is not None:
        console.print(f"written {write_xlsx(a, out)}", highlight=False, soft_wrap=True)
