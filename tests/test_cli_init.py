"""`rectify init`, `--version` and config errors, run as a user runs them: a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

from rectify import __version__
from rectify.db import head_revision


def rectify(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "rectify", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_it_prints_its_version(tmp_path) -> None:
    res = rectify("--version", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"rectify {__version__}"


HEAVY = ("sqlalchemy", "pydantic", "prefect", "docx", "rich.console", "rectify.config")


def test_it_answers_version_and_help_without_loading_the_heavy_libraries(tmp_path) -> None:
    probe = ("import sys; sys.argv = ['rectify', {arg!r}]; from rectify.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             f"print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))")
    for arg in ("--version", "--help"):
        res = subprocess.run([sys.executable, "-c", probe.format(arg=arg)], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines()[-1] == "LOADED []", arg
        assert "rectify" in res.stdout
    people = rectify("people", "add", "--help", cwd=tmp_path)
    from rectify.services.people import ROLES

    assert all(role in people.stdout for role in ROLES)  # the help's list of roles is the service's


def test_it_initialises_once_then_is_a_no_op(tmp_path) -> None:
    first = rectify("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"migrated empty → {head_revision()}" in first.stdout
    assert (tmp_path / "var" / "rectify.db").is_file()
    assert (tmp_path / "var" / "secret_key").is_file()
    second = rectify("init", cwd=tmp_path)
    assert second.returncode == 0 and "up to date" in second.stdout


def test_it_initialises_postgresql_from_the_environment(tmp_path, pg_server) -> None:
    url = pg_server.create_database("rectify_cli_init")
    res = rectify("init", cwd=tmp_path, env={"RECTIFY_DATABASE_URL": url})
    assert res.returncode == 0, res.stderr
    assert "postgresql" in res.stdout and head_revision() in res.stdout


def test_it_names_a_bad_key_without_a_traceback(tmp_path) -> None:
    (tmp_path / "rectify.toml").write_text('[smtp]\nport = "twenty-five"\n', encoding="utf-8")
    res = rectify("init", cwd=tmp_path)
    assert res.returncode == 2
    assert "key 'smtp.port'" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
