"""`rectify units import`, `rectify findings import`, `rectify ledger export`: spreadsheets in and out."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from rectify.cli.main import app, console, err, user_errors

units_app = typer.Typer(help="The unit directory (单位名录).", no_args_is_help=True,
                  rich_markup_mode=None)
findings_app = typer.Typer(help="Findings (督导发现的问题).", no_args_is_help=True,
                  rich_markup_mode=None)
ledger_app = typer.Typer(help="The rectification ledger (整改台账).", no_args_is_help=True,
                  rich_markup_mode=None)
app.add_typer(units_app, name="units")
app.add_typer(findings_app, name="findings")
app.add_typer(ledger_app, name="ledger")

FileArg = Annotated[Path, typer.Argument(help="A workbook (.xlsx, .xls, .ods) or a .csv file (UTF-8, BOM or GBK).")]
SheetOpt = Annotated[str | None, typer.Option("--sheet", help="Worksheet to read (default: the first).")]
PROGRESS_FROM = 2000  # rows; smaller files finish before a bar is worth drawing


def _fail(exc: Exception) -> typer.Exit:
    err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _day(value: str | None) -> date | None:
    from rectify.intake.cells import CellError, parse_date
    from rectify.intake.errors import IntakeError

    if value is None:
        return None
    try:
        return parse_date(value)
    except CellError:
        raise IntakeError("option_date", value=value) from None


class _Bar:
    """A rich progress bar on a terminal, for files big enough to need one."""

    def __init__(self) -> None:
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not err.is_terminal:
            return
        if self.progress is None:
            if max(done, total or 0) < PROGRESS_FROM:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=err.rich(), transient=True)
            self.progress.start()
        if stage not in self.tasks:
            from rectify.templating import labels

            self.tasks[stage] = self.progress.add_task(labels()["intake"].get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@units_app.command("import")
@user_errors
def units_import(file: FileArg, sheet: SheetOpt = None) -> None:
    """Import or update the unit directory: 单位名称, 简称/别名, 类型, 联系人, 联系人邮箱, 主要负责人, 负责人邮箱."""
    from rectify.intake import IntakeError, run_units_import
    from rectify.runtime import build_runtime
    from rectify.templating import render

    rt = build_runtime()
    try:
        report = run_units_import(rt, file, sheet=sheet)
    except IntakeError as exc:
        raise _fail(exc) from None
    finally:
        rt.close()
    console.print(render("intake/units_summary.txt", report=report), markup=False, highlight=False, soft_wrap=True,
                  end="")


@findings_app.command("import")
@user_errors
def findings_import(
    file: FileArg,
    round_name: Annotated[str | None, typer.Option("--round", help="Inspection round, for rows without one.")] = None,
    day: Annotated[str | None, typer.Option("--date", help="Inspection date YYYY-MM-DD, for rows without one.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Supervision group, for rows without one.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; write nothing.")] = False,
    sheet: SheetOpt = None,
) -> None:
    """Import findings, all or nothing; re-importing the same file changes nothing."""
    from rectify.intake.read import ReadAhead

    ahead = ReadAhead(file, sheet=sheet)  # the file is parsed while the imports below load, on the other core
    from rectify.intake import IntakeError, run_findings_import
    from rectify.runtime import build_runtime
    from rectify.templating import render

    bar = _Bar()
    rt = build_runtime()
    try:
        report = run_findings_import(rt, ahead, sheet=sheet, round_name=round_name, inspected_on=_day(day),
                                     group_name=group, dry_run=dry_run, on_progress=bar)
    except IntakeError as exc:
        bar.close()  # before the report, so the bar does not overwrite it
        raise _fail(exc) from None
    finally:
        bar.close()
        rt.close()
    units = sorted(report.by_unit.items(), key=lambda kv: (-kv[1]["created"] - kv[1]["updated"], kv[0]))
    shown = units[:15]
    console.print(render("intake/findings_summary.txt", report=report, units=shown, more=len(units) - len(shown)),
                  markup=False, highlight=False, soft_wrap=True, end="")


@ledger_app.command("export")
@user_errors
def ledger_export(
    file: Annotated[Path, typer.Argument(help="The .xlsx file to write.")],
    round_name: Annotated[str | None, typer.Option("--round", help="Only this inspection round.")] = None,
    state: Annotated[list[str] | None, typer.Option("--state", help="Only findings in this state (repeatable): "
                                                     "open/reported/rejected/closed/cancelled or 未整改 ...")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Count overdue working days to this date "
                                               "(default: today).")] = None,
) -> None:
    """Export the rectification ledger (整改台账) with a per-unit summary sheet."""
    from rectify.config import ConfigError
    from rectify.intake import IntakeError, run_ledger_export
    from rectify.runtime import build_runtime
    from rectify.templating import render

    if file.suffix.lower() != ".xlsx":
        raise ConfigError(f"{file}: the ledger is written as an Excel workbook; name the file *.xlsx")
    if not file.parent.is_dir():
        raise ConfigError(f"{file.parent} is not a folder: create it first, or give another path")
    rt = build_runtime()
    try:
        day = _day(as_of) or rt.today()
        report = run_ledger_export(rt, file, as_of=day, round_name=round_name, states=state or ())
    except IntakeError as exc:
        raise _fail(exc) from None
    finally:
        rt.close()
    console.print(render("intake/ledger_summary.txt", report=report, path=str(file), as_of=day),
                  markup=False, highlight=False, soft_wrap=True, end="")
