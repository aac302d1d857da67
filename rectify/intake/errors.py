"""What an import refuses, worded for the clerk who must fix the file.

`IntakeError` is about the whole file or the options (wrong type, no header row, a missing column);
`ImportRejected` lists every bad cell of every bad row. Both read their wording from
`templates/labels.toml` [intake_error]; the row report is `templates/intake/rejected.txt`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rectify.templating import labels, render


def message(code: str, **params: Any) -> str:
    return str(labels()["intake_error"][code]).format(**params)


class IntakeError(Exception):
    """A problem a user can fix in the file or the command; the message says what to do."""

    def __init__(self, code: str, **params: Any):
        self.code = code
        self.params = params
        super().__init__(message(code, **params))

    def __reduce__(self) -> Any:  # picklable, for Prefect task states
        return (_rebuild, (self.code, self.params))


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad cell: the sheet row as the spreadsheet shows it, the column header as typed, the value."""

    row: int
    column: str
    value: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return message(self.code, **self.params)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "code": self.code,
                "message": self.message}


def shown(value: Any, limit: int = 60) -> str:
    """A cell value as the report quotes it: one line, at most `limit` characters."""
    from rectify.intake.cells import cell_text

    text = " ".join(cell_text(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ImportRejected(IntakeError):
    """The file has bad rows: nothing was written. `errors` lists every one, in sheet order."""

    def __init__(self, source: str, errors: list[RowError], report: Any = None):
        self.source = source
        self.errors = sorted(errors, key=lambda e: e.row)
        self.report = report
        self.code = "rejected"
        self.params = {}
        Exception.__init__(self, self.render())

    def __reduce__(self) -> Any:
        return (ImportRejected, (self.source, self.errors))

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})

    def render(self) -> str:
        return render("intake/rejected.txt", source=self.source, errors=self.errors, bad_rows=self.bad_rows)


def _rebuild(code: str, params: dict[str, Any]) -> IntakeError:
    return IntakeError(code, **params)
