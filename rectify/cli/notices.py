"""`rectify notices list|print`: the numbered 督办通知 Rectify has issued, for the command office to print."""

from __future__ import annotations

from typing import Annotated

import typer

from rectify.cli.main import app, console, initialised_runtime, user_errors

notices_app = typer.Typer(help="督办通知: the numbered supervision notices sent to units.", no_args_is_help=True,
                  rich_markup_mode=None)
app.add_typer(notices_app, name="notices")


@notices_app.command("list")
@user_errors
def list_(
    year: Annotated[int | None, typer.Option("--year", min=2000, max=2999, help="Only this year's notices.")] = None,
) -> None:
    """Every notice (or one year's): number, day, unit, items, reply date and file."""
    from rectify.services.notices import list_notices, notice_number

    rt = initialised_runtime()
    try:
        with rt.sessions() as s:
            rows = list_notices(s, year)
    finally:
        rt.close()
    if not rows:
        console.print(f"no 督办通知 issued{f' in {year}' if year else ''}", highlight=False)
        return
    for n, unit in rows:
        console.print(f"{notice_number(n)}  {n.issued_on}  {unit}  {len(n.finding_ids)} item(s)  "
                      f"reply by {n.reply_by}  {n.file}", highlight=False, soft_wrap=True, markup=False)


@notices_app.command("print")
@user_errors
def print_(
    number: Annotated[int, typer.Argument(min=1, help="The notice's number within its year (3 for 〔2024〕3号).")],
    year: Annotated[int | None, typer.Option("--year", min=2000, max=2999,
                                             help="The notice's year (default this year).")] = None,
) -> None:
    """Print the path of a notice's DOCX, to open and print it."""
    from pathlib import Path

    from rectify.core.notices import NoticeError
    from rectify.services.notices import find_notice, notice_number

    rt = initialised_runtime()
    try:
        with rt.sessions() as s:
            notice = find_notice(s, year or rt.today().year, number)
    finally:
        rt.close()
    if not Path(notice.file).is_file():
        raise NoticeError(f"督办通知{notice_number(notice)}: its file {notice.file} is missing")
    console.print(notice.file, highlight=False, soft_wrap=True, markup=False)
