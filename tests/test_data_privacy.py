"""The data folder is 0700 and what Rectify writes into it 0600 (issue 13.5): another local user must not
read sign-in links in outbox .eml files, evidence, or the database."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from models import Person
from rectify.mail.deliver import flush_outbox
from rectify.runtime import build_runtime
from tests.test_cli_init import rectify
from web.evidence import blob_path, store
from web.signin import request_link

NOW = datetime(2024, 1, 25, 1, 0, tzinfo=UTC)


def mode(path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def shell_umask():
    """A usual login shell's umask (022), so only Rectify's own settings can make files private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_it_initialises_a_private_data_folder_and_tightens_an_old_one(tmp_path, shell_umask) -> None:
    (tmp_path / "var" / "outbox").mkdir(parents=True, mode=0o755)
    old = tmp_path / "var" / "outbox" / "00000001-daily-a.eml"
    old.write_text("a sign-in link")
    old.chmod(0o644)
    res = rectify("init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    var = tmp_path / "var"
    assert (mode(var), mode(var / "rectify.db"), mode(var / "secret_key")) == (0o700, 0o600, 0o600)
    assert (mode(var / "outbox"), mode(old)) == (0o700, 0o600)


def test_it_writes_outbox_mail_and_evidence_for_its_user_only(settings, shell_umask) -> None:
    rt = build_runtime(settings)
    try:
        with rt.sessions() as s, s.begin():
            s.add(Person(name="督导员", email="sup@group.example", role="supervisor"))
        msg_id = request_link(rt, "sup@group.example", NOW, "/findings")
        assert msg_id is not None
        flush_outbox(rt.sessions, rt.settings, NOW)
        (eml,) = rt.settings.outbox_path.glob("*.eml")
        digest = store(rt.settings.evidence_path, b"%PDF-1.4 evidence")
        blob = blob_path(rt.settings.evidence_path, digest)
        assert mode(settings.data_dir) == 0o700
        assert (mode(rt.settings.outbox_path), mode(eml)) == (0o700, 0o600)
        assert (mode(blob.parent), mode(blob)) == (0o700, 0o600)
    finally:
        rt.close()
