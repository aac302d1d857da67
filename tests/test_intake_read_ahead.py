"""`ReadAhead`: the file read in a thread while the import starts gives the same table, and its errors are
raised where the caller asks for the rows, never lost in the thread."""

from __future__ import annotations

import pytest

from rectify.intake import IntakeError
from rectify.intake.headers import finding_spec
from rectify.intake.read import ReadAhead, read_table
from tests.support.intake import HEAD, xlsx


def test_it_reads_the_same_table_as_reading_in_place(tmp_path) -> None:
    path = xlsx(tmp_path / "f.xlsx", [["2024年问题清单"], HEAD, [1, "A-1", "第一督导组", "2024-01-10", "城关镇", "问题",
                                                               "整改", "2024-01-31", "", ""]],
                more_sheets=("说明",))
    direct = read_table(path, finding_spec())
    ahead = read_table(ReadAhead(path), finding_spec())
    assert (ahead.name, ahead.header.columns, ahead.estimated_rows) == (
        direct.name, direct.header.columns, direct.estimated_rows)
    assert list(ahead.rows) == list(direct.rows) and direct.estimated_rows == 1


def test_it_raises_the_reading_error_in_the_callers_thread(tmp_path) -> None:
    path = xlsx(tmp_path / "f.xlsx", [HEAD])
    for ahead, kind in ((ReadAhead(tmp_path / "none.xlsx"), "no_file"), (ReadAhead(path, sheet="没有这页"), "no_sheet"),
                        (ReadAhead(b"PK\x03\x04broken", filename="坏.xlsx"), "unreadable")):
        with pytest.raises(IntakeError) as caught:
            read_table(ahead, finding_spec())
        assert caught.value.code == kind
        assert not ahead._thread.is_alive()
