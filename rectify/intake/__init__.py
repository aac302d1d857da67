"""Intake: unit directories and findings from spreadsheets in, the 整改台账 out.

The plain functions here are what the CLI (`rectify units|findings|ledger ...`), the Prefect flow
`flows/import_findings.py` and the web form call:

- `import_units(session, source, *, filename=None, sheet=None, county_prefix="") -> UnitImport`
- `import_findings(session, source, *, calendar, now, filename=None, sheet=None, round_name=None,
  inspected_on=None, group_name=None, dry_run=False, county_prefix="", immediate_days=3, actor=SYSTEM,
  on_progress=None) -> FindingImport`
- `export_ledger(session, dest, *, calendar, as_of, ladder=(), round_name=None, states=(),
  timezone="Asia/Shanghai") -> LedgerExport`
- `run_units_import(rt, source, ...)`, `run_findings_import(rt, source, ...)`, `run_ledger_export(rt, dest, ...)`:
  the same with the runtime's settings, in one transaction (committed unless a dry run).

`source` is a path, the file's bytes or a binary stream (pass `filename` with bytes so messages can
name the file). Every user-fixable problem raises `IntakeError`; bad rows raise its subclass
`ImportRejected` with every bad cell, and then nothing is written.
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy, so `rectify --version` and the CLI's error handling do not import openpyxl and the models.
_WHERE = {
    "ImportRejected": "errors", "IntakeError": "errors", "RowError": "errors",
    "FindingImport": "findings", "import_findings": "findings",
    "LedgerExport": "ledger", "export_ledger": "ledger",
    "UnitImport": "units", "import_units": "units",
    "run_findings_import": "service", "run_ledger_export": "service", "run_units_import": "service",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"rectify.intake.{_WHERE[name]}"), name)
