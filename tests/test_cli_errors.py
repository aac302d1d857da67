"""Every command answers a setting or environment problem with one line naming what to fix and exit 2,
never a traceback (issue 12 item 6). Run as a user runs them: subprocesses."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.test_cli_init import rectify


@pytest.fixture
def home(tmp_path: Path) -> Path:
    assert rectify("init", cwd=tmp_path).returncode == 0
    return tmp_path


def one_line_error(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in res.stderr and lines[0].startswith("error:"), res.stderr[-2000:]
    return lines[0]


def test_it_accepts_a_comma_separated_command_office(home) -> None:
    res = rectify("outbox", "list", cwd=home, env={"RECTIFY_COMMAND_OFFICE": "office@x.gov, chief@x.gov"})
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(("env", "says"), [
    ({"RECTIFY_LADDER": "x"}, "RECTIFY_LADDER"),
    ({"RECTIFY_DATABASE_URL": "garbage"}, "database_url"),
    ({"RECTIFY_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/rectify"}, "PostgreSQL server running"),
    ({"RECTIFY_DATA_DIR": "/proc/x"}, "data_dir"),
])
def test_it_names_the_setting_to_fix(home, env, says) -> None:
    assert says in one_line_error(rectify("outbox", "list", cwd=home, env=env))


def test_it_says_a_read_only_database_cannot_be_written(home) -> None:
    url = f"sqlite:///file:{home / 'var' / 'rectify.db'}?mode=ro&uri=true"
    line = one_line_error(rectify("outbox", "retry", "--failed", cwd=home, env={"RECTIFY_DATABASE_URL": url}))
    assert "readonly" in line and "writable" in line


@pytest.mark.parametrize(("dest", "says"), [("missing/dir/l.xlsx", "not a folder"), ("l.csv", "*.xlsx")])
def test_it_refuses_a_ledger_it_cannot_write_before_writing(home, dest, says) -> None:
    line = one_line_error(rectify("ledger", "export", dest, cwd=home))
    assert says in line and not (home / dest).exists()


def test_it_says_the_form_port_is_busy(home) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(rectify("web", "--port", str(port), cwd=home))
    assert f"port {port}" in line and "already in use" in line


def test_it_says_the_form_cannot_listen_on_an_address_this_machine_lacks(home) -> None:
    line = one_line_error(rectify("web", "--host", "192.0.2.1", "--port", "18999", cwd=home))  # TEST-NET-1
    assert "cannot listen on 192.0.2.1:18999" in line and "already in use" not in line and "--host" in line
