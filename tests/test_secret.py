"""The signing secret (issue 13.1): never empty, never weak, regenerated only when the file is absent."""

from __future__ import annotations

import base64
import os
import secrets

import pytest

from rectify.config import ConfigError, load_settings, secret_bits
from tests.test_cli_init import rectify


def test_it_refuses_an_empty_secret_file_and_keeps_it(tmp_path) -> None:
    (tmp_path / "var").mkdir()
    key = tmp_path / "var" / "secret_key"
    key.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        _ = load_settings(None, data_dir=tmp_path / "var").secret
    assert key.read_text() == "\n"  # not silently replaced: that would be a decision for the operator


@pytest.mark.parametrize("weak", ["a", "test-secret-" + "x" * 32, "x" * 200, "password" * 20, "ab" * 64,
                                  "ea6482a0ed4285271de19cea8b613fb958f5e866f7daba7164e0f3ccc7ede5"])  # 248 bits
def test_it_refuses_a_weak_configured_secret(tmp_path, weak: str) -> None:
    with pytest.raises(ConfigError, match="too weak"):
        _ = load_settings(None, data_dir=tmp_path / "var", secret_key=weak).secret


def test_it_accepts_what_the_usual_generators_make() -> None:
    gens = (lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(32),
            lambda: base64.b64encode(os.urandom(32)).decode(), lambda: secrets.token_hex(32).upper())
    assert min(secret_bits(g()) for g in gens for _ in range(500)) >= 256


def test_it_still_generates_the_file_when_absent(tmp_path) -> None:
    s = load_settings(None, data_dir=tmp_path / "var")
    assert secret_bits(s.secret) >= 256
    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("command", ["init", "web"])
def test_it_exits_2_with_one_line_on_a_weak_secret(tmp_path, command: str) -> None:
    res = rectify(command, cwd=tmp_path, env={"RECTIFY_SECRET_KEY": "a", "COLUMNS": "400"})
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "too weak" in res.stderr


def test_it_exits_2_on_an_empty_secret_file(tmp_path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("")
    res = rectify("init", cwd=tmp_path, env={"COLUMNS": "400"})
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "is empty" in res.stderr
    assert (tmp_path / "var" / "secret_key").read_text() == ""
