"""`rectify demo`: a guided run on a throwaway county (see rectify.demo.simulate)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from rectify.cli.main import app, console, user_errors


@app.command()
@user_errors
def demo(
    days: Annotated[int, typer.Option(min=5, max=120, help="Days to simulate.")] = 30,
    out: Annotated[Path, typer.Option(help="Folder for the demo county (created; re-using one starts afresh).")] = Path(
        "demo-county"),
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                 help="Last simulated day (default: today).")] = None,
    findings: Annotated[int, typer.Option(min=10, max=2000, help="Findings in the inspection round.")] = 120,
    pdf: Annotated[bool, typer.Option(help="Also convert the bulletin to PDF (needs LibreOffice).")] = False,
) -> None:
    """Simulate a month of supervision on a demo county: daily mails, reports, 销号, digests, a bulletin."""
    import shutil

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from rectify.demo.simulate import run_demo
    from rectify.templating import render

    if out.exists():
        if not (out / "rectify.toml").is_file():
            raise typer.BadParameter(f"{out} exists and is not a demo folder; choose another --out")
        shutil.rmtree(out)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[note]}"), console=console.rich(), transient=False) as bar:
        task = bar.add_task("simulating", total=days, note="")

        def on_day(day, note: str) -> None:
            bar.update(task, advance=1, description=f"{day:%Y-%m-%d %a}", note=note)

        result = run_demo(out, days=days, end=end.date() if end else None, findings=findings, on_day=on_day, pdf=pdf)
    levels = sorted(result.mails_by_level.items())
    console.print(render("demo/summary.txt", r=result, levels=levels, link_days=14).rstrip(), highlight=False,
                  markup=False, soft_wrap=True)
