"""`rectify web` and `rectify api-token`, run as a user runs them: subprocesses."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx

from models import Person
from rectify.db import make_engine, session_factory
from rectify.links import verify
from tests.support.smtp import free_port
from tests.test_cli_init import rectify


def _with_person(tmp_path) -> int:
    assert rectify("init", cwd=tmp_path).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'rectify.db'}")
    with session_factory(engine)() as s, s.begin():
        p = Person(name="督导员", email="sup@group.example", role="supervisor")
        s.add(p)
        s.flush()
        pid = p.id
    engine.dispose()
    return pid


def test_it_refuses_to_serve_an_empty_database(tmp_path) -> None:
    res = rectify("web", "--port", str(free_port()), cwd=tmp_path)
    assert res.returncode == 2 and "rectify init" in res.stderr


def test_it_serves_the_form(tmp_path) -> None:
    assert rectify("init", cwd=tmp_path).returncode == 0
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rectify", "web", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/signin", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.1)
        assert page is not None and page.status_code == 200 and "发送登录链接" in page.text
        assert all(httpx.get(f"http://127.0.0.1:{port}/signin", timeout=5).status_code == 200 for _ in range(6))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "2 worker processes" in proc.stdout.read().decode()


def test_it_prints_an_api_token_bound_to_one_person(tmp_path) -> None:
    pid = _with_person(tmp_path)
    res = rectify("api-token", "issue", "SUP@group.example", "--days", "30", "--note", "nightly export",
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    secret = (tmp_path / "var" / "secret_key").read_text().strip()
    assert verify(secret, res.stdout.strip(), now=datetime.now(UTC), purpose="api") == pid


def test_it_lists_and_revokes_api_tokens_and_bounds_their_life(tmp_path) -> None:
    _with_person(tmp_path)
    too_long = rectify("api-token", "issue", "sup@group.example", "--days", "3660", cwd=tmp_path,
                       env={"COLUMNS": "400"})
    assert too_long.returncode == 2 and "between 1 and 365" in too_long.stderr
    assert rectify("api-token", "issue", "sup@group.example", cwd=tmp_path).returncode == 0
    listed = rectify("api-token", "list", cwd=tmp_path, env={"COLUMNS": "400"})
    assert listed.returncode == 0 and "sup@group.example" in listed.stdout and "active" in listed.stdout
    token_id = listed.stdout.split()[0]
    assert rectify("api-token", "revoke", token_id, cwd=tmp_path).returncode == 0
    assert "revoked" in rectify("api-token", "list", cwd=tmp_path, env={"COLUMNS": "400"}).stdout
    assert rectify("api-token", "revoke", "999", cwd=tmp_path).returncode == 2


def test_it_revokes_a_person_from_the_command_line(tmp_path) -> None:
    pid = _with_person(tmp_path)
    res = rectify("people", "revoke", "sup@group.example", cwd=tmp_path, env={"COLUMNS": "400"})
    assert res.returncode == 0 and "revoked" in res.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'rectify.db'}")
    with session_factory(engine)() as s:
        assert s.get(Person, pid).valid_after is not None
    engine.dispose()
    unknown = rectify("api-token", "issue", "nobody@example.gov", cwd=tmp_path, env={"COLUMNS": "400"})
    assert unknown.returncode == 2 and "no person" in unknown.stderr
