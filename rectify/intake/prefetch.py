"""A spreadsheet read in a thread of its own while the import gets ready beside it.

Why: python-calamine parses a sheet's XML with the GIL released (`get_sheet_by_name`: ~1 s of a 100,000-row
sheet's ~1.3 s read, measured with a thread counting beside it at full speed), so on a second core it runs
beside what the import does before it needs a single row: the command's imports (SQLAlchemy, the models,
the intake's modules: ~1 s of a `rectify findings import`), the runtime, the working-day calendar, the
database check and the unit directory's keys. Nothing else changes: the rows, the row numbers and every
error are those of `read_rows`, raised where the import reads the table (so a database that is not set up
is still reported before a bad file), and nothing is written by the thread.

The thread is not a daemon: an import given up before it reads (an error, Ctrl-C) lets the read finish
before the process exits, instead of stopping the interpreter under a parse in Rust.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

Rows = tuple[str, Iterator[tuple[int, Sequence[Any]]], int | None]  # read.read_rows' result


class Prefetched:
    """`read_rows(source, filename=, sheet=)` running in a thread; `rows()` waits for it (or raises its error)."""

    def __init__(self, source: Path | str | bytes | IO[bytes], *, filename: str | None = None,
                 sheet: str | None = None) -> None:
        self.filename, self.sheet = filename, sheet
        self._result: Rows | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(source,), name="rectify-read-sheet")
        self._thread.start()

    def _read(self, source: Path | str | bytes | IO[bytes]) -> None:
        try:
            from rectify.intake.read import read_rows  # here: its imports run beside the caller's too
            from rectify.memory import collector_paused, give_back

            with collector_paused():  # a million cells: as inside the import (rectify/intake/findings.py)
                self._result = read_rows(source, filename=self.filename, sheet=self.sheet)
            give_back()  # the parse's buffers, freed into this thread's own malloc arena, which the import cannot reuse
        except BaseException as exc:  # raised again in the caller's thread, where the import reads the table
            self._error = exc

    def rows(self) -> Rows:
        """The sheet's (display name, rows, estimated row count); once only (the rows are an iterator)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RuntimeError("the prefetched sheet was already read")
        result, self._result = self._result, None
        return result


def prefetch(source: Any, *, filename: str | None = None, sheet: str | None = None) -> Prefetched:
    """Start reading `source` (a path, bytes or a binary stream); a source already being read is returned as is."""
    if isinstance(source, Prefetched):
        return source
    return Prefetched(source, filename=filename, sheet=sheet)
