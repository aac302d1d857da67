"""`rectify bulletin` and `rectify digest` as a user runs them: a subprocess configured by RECTIFY_*."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rectify.config import Settings
from rectify.db import migrate
from rectify.runtime import build_runtime
from tests.support import bulletin_data
from tests.support.keys import TEST_SECRET


@pytest.fixture
def county(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "var"
    settings = Settings(data_dir=data, secret_key=TEST_SECRET, command_office=["office@county.example"])
    rt = build_runtime(settings)
    migrate(rt.engine)
    with rt.sessions() as s:
        bulletin_data.seed(s)
    rt.close()
    return {"RECTIFY_DATA_DIR": str(data), "RECTIFY_SECRET_KEY": settings.secret_key.get_secret_value(),
            "RECTIFY_COMMAND_OFFICE": json.dumps(settings.command_office), "RECTIFY_BULLETIN__START_ISSUE": "20"}


def rectify(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")} | {"COLUMNS": "400"} | env
    return subprocess.run([sys.executable, "-m", "rectify", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=120)


def test_it_drafts_then_issues_and_refuses_the_same_number(tmp_path, county) -> None:
    article = tmp_path / "动态.md"
    article.write_text("# 督导组调研督导法治政府创建工作\n\n本周开展督导。\n", encoding="utf-8")
    draft = rectify("bulletin", "--as-of", "2024-01-19", "--draft", "--no-pdf", "--section", str(article),
                    cwd=tmp_path, env=county)
    assert draft.returncode == 0, draft.stderr
    assert "draft of 工作简报第20期" in draft.stdout and bulletin_data.LEAD in draft.stdout
    assert (tmp_path / "var" / "bulletins" / "工作简报第20期（草稿）.docx").is_file()

    out = tmp_path / "printed"
    issued = rectify("bulletin", "--as-of", "2024-01-19", "--no-pdf", "--out", str(out), cwd=tmp_path, env=county)
    assert issued.returncode == 0, issued.stderr
    assert "issued 工作简报第20期" in issued.stdout and (out / "工作简报第20期.html").is_file()

    again = rectify("bulletin", "--as-of", "2024-01-26", "--issue", "20", "--no-pdf", cwd=tmp_path, env=county)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "工作简报第20期 has already been issued" in again.stderr

    empty = rectify("bulletin", "--as-of", "2024-01-19", "--no-pdf", cwd=tmp_path, env=county)
    assert empty.returncode == 2 and "工作简报第21期 would be empty" in empty.stderr and "--allow-empty" in empty.stderr
    assert not (tmp_path / "var" / "bulletins" / "工作简报第21期.docx").exists()
    forced = rectify("bulletin", "--as-of", "2024-01-19", "--no-pdf", "--allow-empty", cwd=tmp_path, env=county)
    assert forced.returncode == 0 and "issued 工作简报第21期" in forced.stdout


def test_it_names_a_bad_article_file_and_a_bad_date(tmp_path, county) -> None:
    res = rectify("bulletin", "--draft", "--section", str(tmp_path / "nope.md"), cwd=tmp_path, env=county)
    assert res.returncode == 2 and "nope.md: no such file" in res.stderr and "Traceback" not in res.stderr
    res = rectify("bulletin", "--as-of", "2024-13-01", cwd=tmp_path, env=county)
    assert res.returncode == 2 and "--as-of" in res.stderr


def test_it_mails_the_digest_into_the_outbox_folder_once_a_week(tmp_path, county) -> None:
    first = rectify("digest", "--week-of", "2024-01-19", cwd=tmp_path, env=county)
    assert first.returncode == 0, first.stderr
    assert "queued 1 message(s)" in first.stdout and "sent 1" in first.stdout
    assert len(list((tmp_path / "var" / "outbox").glob("*-digest-*.eml"))) == 1
    second = rectify("digest", "--week-of", "2024-01-15", cwd=tmp_path, env=county)
    assert second.returncode == 0 and "already queued" in second.stdout
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 1
