"""rectify.intake.prefetch: the sheet is read in a thread beside the import's set-up, with read_rows' rows and
errors, raised where the import reads the table; the service reads through it on both databases."""

from __future__ import annotations

import io
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from models import Finding
from rectify.config import Settings
from rectify.intake import IntakeError
from rectify.intake.prefetch import Prefetched, prefetch
from rectify.intake.read import read_rows
from rectify.intake.service import run_findings_import
from rectify.runtime import build_runtime
from tests.support.intake import HEAD, PREFIX, four_units, xlsx

units = pytest.fixture(four_units, name="units")
ROWS = [["2024年第一轮督导发现问题清单"], HEAD,
        [1, "P-1", "第一督导组", date(2024, 1, 10), "鲁山县财政局", "问题一", "整改", date(2024, 1, 31), "", ""],
        [2, "P-2", "第一督导组", date(2024, 1, 10), "城关镇", "<b>问题二</b>", "整改", "5个工作日内", "", ""]]


class _HeldStream(io.BytesIO):
    """An upload whose first read waits until the test lets it go, noting the thread that reads it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.name = "上传.xlsx"
        self.go = threading.Event()
        self.readers: list[str] = []

    def read(self, *args):  # type: ignore[override]
        self.readers.append(threading.current_thread().name)
        assert self.go.wait(10), "the test never let the read go"
        return super().read(*args)


def test_it_reads_in_its_own_thread_and_returns_at_once(tmp_path) -> None:
    stream = _HeldStream(xlsx(tmp_path / "清单.xlsx", ROWS).read_bytes())
    started = prefetch(stream)  # returns while the read is held (read at once, it would wait here and fail)
    assert isinstance(started, Prefetched)
    stream.go.set()
    name, rows, estimated = started.rows()
    assert stream.readers == ["rectify-read-sheet"]
    assert name == "上传.xlsx" and estimated == 4
    assert [cells[1] for _, cells in rows][2:] == ["P-1", "P-2"]


def test_it_gives_what_read_rows_gives(tmp_path) -> None:
    path = xlsx(tmp_path / "清单.xlsx", ROWS, merges=("C3:C4",), more_sheets=("说明",))
    for sheet in (None, "问题清单"):
        name, rows, estimated = prefetch(path, sheet=sheet).rows()
        expected = read_rows(path, sheet=sheet)
        assert (name, [(n, list(c)) for n, c in rows], estimated) == \
            (expected[0], [(n, list(c)) for n, c in expected[1]], expected[2])


def test_its_errors_come_where_the_rows_are_asked_for(tmp_path) -> None:
    started = prefetch(tmp_path / "没有这个文件.xlsx")  # no error yet
    with pytest.raises(IntakeError) as missing:
        started.rows()
    assert missing.value.code == "no_file"
    with pytest.raises(IntakeError) as sheet:
        prefetch(xlsx(tmp_path / "清单.xlsx", ROWS), sheet="第九页").rows()
    assert sheet.value.code == "no_sheet"


def test_its_rows_are_given_once_and_a_started_read_is_not_started_again(tmp_path) -> None:
    started = prefetch(xlsx(tmp_path / "清单.xlsx", ROWS))
    assert prefetch(started) is started
    started.rows()
    with pytest.raises(RuntimeError, match="already read"):
        started.rows()


def test_the_service_imports_through_it(session, rt, units, tmp_path) -> None:
    path = xlsx(tmp_path / "清单.xlsx", ROWS)
    report = run_findings_import(rt, prefetch(path), round_name="2024年第一轮")  # started by the caller (the CLI)
    again = run_findings_import(rt, path, round_name="2024年第一轮")  # started by the service itself
    assert (report.created, again.created, again.unchanged) == (2, 0, 2)
    assert session.scalar(select(func.count()).select_from(Finding)) == 2


def test_a_database_not_set_up_is_still_reported_before_a_bad_file(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    create_engine(f"sqlite:///{db}").dispose()
    rt = build_runtime(Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{db}", county_prefix=PREFIX,
                                secret_key="k" * 48))
    try:
        with pytest.raises(IntakeError) as exc:
            run_findings_import(rt, tmp_path / "没有这个文件.xlsx", round_name="2024年第一轮")
    finally:
        rt.close()
    assert exc.value.code == "not_initialised"
