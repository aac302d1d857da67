"""`rectify bulletin` (the next 工作简报 第N期) and `rectify digest` (the weekly digest to the command office)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from rectify.cli.main import app, console, err, user_errors


@app.command()
@user_errors
def bulletin(
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                   help="Cover closures up to the end of this day (default today).")]
    = None,
    issue: Annotated[int | None, typer.Option("--issue", min=1, help="Issue number (default: last issued + 1).")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", file_okay=False, help="Folder for the files "
                                             "(default <data_dir>/bulletins).")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Render only; record nothing (can be re-run).")] = False,
    section: Annotated[list[Path] | None, typer.Option("--section", help="An article (Markdown or text) placed "
                                                       "under 工作动态; repeat for several. `progress` adds the "
                                                       "整改进展 section (newest progress reports by group), "
                                                       "`ranking` the 考评排名 over the bulletin's period.")]
    = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Progress reports per group in `--section progress`.")]
    = 5,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also a PDF when LibreOffice is installed.")] = True,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Issue even when nothing was closed since "
                                              "the last issue.")] = False,
) -> None:
    """Compile the next work bulletin (工作简报) from the findings closed since the last one: DOCX, HTML, PDF."""
    from rectify.bulletin.issue import compile_issue
    from rectify.bulletin.sections import load_articles, split_sections
    from rectify.runtime import build_runtime
    from rectify.templating import render

    files, named = split_sections(section or [])
    articles = load_articles(files)  # a bad file fails before anything is read or written
    rt = build_runtime()
    try:
        day = as_of.date() if as_of else rt.today()
        r = compile_issue(rt, as_of=day, now=rt.now(), issue_no=issue, out_dir=out, draft=draft,
                          articles=articles, pdf=pdf, progress_section="progress" in named, progress_top=top,
                          ranking="ranking" in named, allow_empty=allow_empty)
    finally:
        rt.close()
    state = "draft of" if r.draft else "issued"
    console.print(f"{state} 工作简报第{r.issue_no}期 covering closures up to {r.as_of}: "
                  f"{r.stats.new_closed} new closures", highlight=False, soft_wrap=True)
    console.print(render("bulletin/lead.txt", s=r.stats, as_of=r.as_of).strip(), highlight=False, soft_wrap=True)
    for path in r.files.values():
        console.print(f"  {path}", highlight=False, soft_wrap=True)
    if pdf and r.pdf_skipped:
        err.print(f"no PDF: {r.pdf_skipped}", highlight=False, soft_wrap=True)


@app.command()
@user_errors
def digest(
    week_of: Annotated[datetime | None, typer.Option("--week-of", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                                                     help="Any day of the week to report (default this week).")]
    = None,
) -> None:
    """Mail the weekly digest to the command office (once per week: a rerun sends nothing)."""
    from rectify.bulletin.digest import send_weekly_digest
    from rectify.runtime import build_runtime

    rt = build_runtime()
    try:
        now, today = rt.now(), rt.today()
        run = send_weekly_digest(rt, week_of=week_of.date() if week_of else today, today=today, now=now)
    finally:
        rt.close()
    d = run.digest
    console.print(f"digest {d.week_start}..{d.week_end} (as of {d.as_of}): new {d.this.new}, closed {d.this.closed}, "
                  f"awaiting {d.this.awaiting}, overdue {d.this.overdue}", highlight=False, soft_wrap=True)
    if not rt.settings.command_office:
        err.print("no command_office addresses are configured: nothing was mailed", highlight=False, soft_wrap=True)
    elif run.queued == 0:
        console.print("this week's digest was already queued: nothing new to send", soft_wrap=True)
    else:
        console.print(f"queued {run.queued} message(s)")
    if run.report is not None:
        console.print(f"outbox: sent {run.report.sent}, failed {len(run.report.failed)}, "
                      f"retry later {len(run.report.pending)}")
        for _, rcpt, error in run.report.failed:
            err.print(f"  {rcpt}: {error}", highlight=False, soft_wrap=True)
        if run.report.config_error:
            err.print(f"error: {run.report.config_error}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(2)
