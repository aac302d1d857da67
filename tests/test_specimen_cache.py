"""The 督办通知 specimen is laid out by python-docx once and read back from disk by later processes: the
same bytes either way, and a damaged or unwritable cache only costs the layout again."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from rectify.bulletin import notice_docx, specimen_cache
from rectify.bulletin.notice_docx import NoticeItem, build_notice, notice_docx_bytes

ROOT = Path(__file__).resolve().parent.parent


def _notice() -> bytes:
    items = [NoticeItem(f"A-{i}", "<b>问题</b> & 说明", "整改意见", date(2024, 5, 1), date(2024, 5, 10), i)
             for i in range(3)]
    d = build_notice(issuer="某县督查办", year=2024, number=3, unit="县水利局", items=items,
                     issued_on=date(2024, 6, 5), reply_by=date(2024, 6, 12), groups=["第一督导组"])
    return notice_docx_bytes(d)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RECTIFY_CACHE_DIR", str(tmp_path / "cache"))
    notice_docx._template.cache_clear()
    yield tmp_path / "cache"
    notice_docx._template.cache_clear()


def test_it_stores_the_specimen_and_fills_the_same_bytes_from_it(cache_dir) -> None:
    laid_out = _notice()
    stored = list(cache_dir.glob("notice-specimen-*.marshal"))
    assert len(stored) == 1
    notice_docx._template.cache_clear()
    assert specimen_cache.load(notice_docx._SOURCES) is not None
    assert _notice() == laid_out


def test_it_lays_the_specimen_out_again_when_the_stored_one_is_damaged(cache_dir) -> None:
    laid_out = _notice()
    (path,) = cache_dir.glob("notice-specimen-*.marshal")
    path.write_bytes(b"\x00not marshal")
    notice_docx._template.cache_clear()
    assert specimen_cache.load(notice_docx._SOURCES) is None
    assert _notice() == laid_out
    assert specimen_cache.load(notice_docx._SOURCES) is not None  # stored again


def test_it_still_issues_notices_where_the_cache_cannot_be_written(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RECTIFY_CACHE_DIR", str(blocker / "cache"))
    notice_docx._template.cache_clear()
    try:
        assert _notice().startswith(b"PK")
    finally:
        notice_docx._template.cache_clear()


def test_it_issues_a_notice_without_importing_python_docx_once_cached(cache_dir) -> None:
    _notice()  # stores the specimen
    code = ("import sys; from tests.test_specimen_cache import _notice; b = _notice(); "
            "print(len(b), 'docx' in sys.modules, 'lxml.etree' in sys.modules)")
    env = {"RECTIFY_CACHE_DIR": str(cache_dir), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    size, docx, lxml = out.stdout.split()
    assert int(size) == len(_notice()) and docx == "False" and lxml == "False"
