"""`rectify calendar import|show|status`: keep the working-day calendar current from the State Council's notice."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rectify.cli.main import app, console, initialised_runtime, user_errors

calendar_app = typer.Typer(help="The working-day calendar: import the yearly holiday notice, show a year, status.",
                           no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")


def _read(source: str) -> str:
    from rectify.core.holiday_notice import NoticeParseError, decode

    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise NoticeParseError(f"{source}: no such file")
        data = path.read_bytes()
    return decode(data)


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


@calendar_app.command("import")
@user_errors
def import_(
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="The notice as pasted from gov.cn (UTF-8 or GBK); "
                                                                 "- reads standard input.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse, check and list the deadlines that would move; "
                                                            "store nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import next year's 部分节假日安排 notice: its days off and 调休 working days, then re-plan deadlines."""
    import getpass

    from rectify.services.calendar import import_notice

    text = _read(source)
    rt = initialised_runtime()
    try:
        result = import_notice(rt, text, dry_run=dry_run, by=f"cli:{getpass.getuser()}")
    finally:
        rt.close()
    if as_json:
        _print_json(result.as_json())  # year/holidays/workdays/document, plus what was (or would be) re-planned
        return
    s = result.schedule
    verb = "would import" if dry_run else ("already imported, unchanged:" if result.unchanged else "imported")
    console.print(f"{verb} {s.year} ({s.document or 'no document number'}): {len(s.holidays)} day(s) off, "
                  f"{len(s.workdays)} 调休 working day(s)", highlight=False, markup=False)
    if result.moves:
        console.print(f"{'would move' if dry_run else 'moved'} {len(result.moves)} deadline(s):",
                      highlight=False, markup=False)
        for m in result.moves:
            console.print(f"  {m.code}  {m.rule}  {m.old} → {m.new}", highlight=False, markup=False)
    elif not result.unchanged:
        console.print("no working-day deadline moves", highlight=False, markup=False)


@calendar_app.command("show")
@user_errors
def show(
    year: Annotated[int, typer.Argument(min=1900, max=2999, help="The year to show.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the year as JSON.")] = False,
) -> None:
    """A year's days off and 调休 working days, and where they come from."""
    from rectify.services.calendar import show_year

    rt = initialised_runtime()
    try:
        view = show_year(rt, year)
    finally:
        rt.close()
    if as_json:
        _print_json(view.as_json())
        return
    console.print(f"{year}: {view.source}", highlight=False, markup=False)
    console.print("  days off:  " + (", ".join(d.isoformat() for d in view.holidays) or "none"),
                  highlight=False, markup=False, soft_wrap=True)
    console.print("  调休 working days: " + (", ".join(d.isoformat() for d in view.workdays) or "none"),
                  highlight=False, markup=False, soft_wrap=True)


@calendar_app.command("status")
@user_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """The years known and their sources, and which years the current deadlines need."""
    from rectify.services.calendar import calendar_status, cliff_warning

    rt = initialised_runtime()
    try:
        today = rt.today()
        st = calendar_status(rt, today)
        warning = cliff_warning(rt.calendar, today, rt.settings.calendar.warn_from)
    finally:
        rt.close()
    if as_json:
        _print_json({**st.as_json(), "warning": warning})
        return
    runs: list[tuple[int, int, str]] = []
    for y, src in st.years.items():
        if runs and runs[-1][2] == src and runs[-1][1] == y - 1:
            runs[-1] = (runs[-1][0], y, src)
        else:
            runs.append((y, y, src))
    for a, b, src in runs:
        console.print(f"{a if a == b else f'{a}–{b}'}  {src}", highlight=False, markup=False)
    console.print(f"current deadlines need: {', '.join(map(str, st.needed))}", highlight=False, markup=False)
    if st.provisional_needed:
        console.print(f"provisional (暂定) among them: {', '.join(map(str, st.provisional_needed))}",
                      highlight=False, markup=False)
    if st.unknown_needed:
        console.print(f"NOT covered at all: {', '.join(map(str, st.unknown_needed))}", highlight=False, markup=False)
    if warning:
        console.print(warning, highlight=False, markup=False)
