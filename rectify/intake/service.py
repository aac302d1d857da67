"""The intake operations wired to a Runtime: settings, calendar, clock, one transaction each."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from rectify.core.followup import FollowupRules
from rectify.db import is_initialised, transaction
from rectify.intake.errors import IntakeError
from rectify.intake.findings import FindingImport, Progress, import_findings
from rectify.intake.read import ReadAhead, Source
from rectify.intake.units import UnitImport, import_units
from rectify.runtime import Runtime
from rectify.services.findings import SYSTEM, Actor

if TYPE_CHECKING:  # the ledger (openpyxl: 0.35 s CPU to import) only when a ledger is written
    from rectify.intake.ledger import LedgerExport


def _ready(rt: Runtime) -> None:
    if not is_initialised(rt.engine):
        raise IntakeError("not_initialised")


def run_units_import(rt: Runtime, source: Source, *, filename: str | None = None,
                     sheet: str | None = None) -> UnitImport:
    _ready(rt)
    with transaction(rt.sessions) as session:
        return import_units(session, source, filename=filename, sheet=sheet,
                            county_prefix=rt.settings.county_prefix)


def run_findings_import(rt: Runtime, source: Source | ReadAhead, *, filename: str | None = None,
                        sheet: str | None = None, round_name: str | None = None, inspected_on: date | None = None,
                        group_name: str | None = None, dry_run: bool = False, actor: Actor = SYSTEM,
                        on_progress: Progress | None = None) -> FindingImport:
    """Import findings in one transaction: committed when clean, rolled back on any error (a dry run writes nothing).
    The file is read in a thread meanwhile (`ReadAhead`), unless the caller started that already."""
    _ready(rt)
    if not isinstance(source, ReadAhead):
        source = ReadAhead(source, filename=filename, sheet=sheet)
    try:
        with transaction(rt.sessions) as session:
            return import_findings(
                session, source, calendar=rt.calendar, now=rt.now(), filename=filename, sheet=sheet,
                round_name=round_name, inspected_on=inspected_on, group_name=group_name, dry_run=dry_run,
                county_prefix=rt.settings.county_prefix,
                immediate_days=rt.settings.deadlines.immediate_working_days, actor=actor, on_progress=on_progress,
                followup=FollowupRules.of(rt.settings.supervision), today=rt.today())
    except (IntegrityError, StaleDataError):
        # Someone wrote the same findings meanwhile (a second import, the form): all rolled back; run it again.
        raise IntakeError("conflict") from None


def run_ledger_export(rt: Runtime, dest: Path | str | IO[bytes], *, as_of: date | None = None,
                      round_name: str | None = None, states: Any = ()) -> LedgerExport:
    from rectify.intake.ledger import export_ledger

    _ready(rt)
    with rt.sessions() as session:
        return export_ledger(session, dest, calendar=rt.calendar, as_of=as_of or rt.today(), ladder=rt.ladder,
                             round_name=round_name, states=states, timezone=rt.settings.timezone,
                             supervision=rt.settings.supervision)
