"""`rectify remind` and `rectify outbox list|retry`, configured through RECTIFY_* like a real install."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from models import OutboxMessage
from rectify.cli.main import app
from tests.support import factory
from tests.support.envvars import rectify_env

RECTIFY = str(Path(sys.executable).with_name("rectify"))


@pytest.fixture
def env(settings, smtp_sink, rt, tmp_path) -> dict[str, str]:
    """The environment of a configured install whose SMTP server is the test sink; one late finding."""
    with rt.sessions() as s, s.begin():
        g, r = factory.group(s, members=1), factory.round_(s)
        u = factory.unit(s, "县财政局")
        factory.finding(s, unit=u, round=r, group=g, due=date(2024, 1, 22), problem="<b>台账</b>不全")
    return rectify_env(settings, RECTIFY_SMTP__HOST="127.0.0.1", RECTIFY_SMTP__PORT=str(smtp_sink.port),
                       RECTIFY_SMTP__TIMEOUT="3", RECTIFY_CONFIG="", PREFECT_API_URL="")


def cli(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def test_it_runs_the_day_from_the_command_line_with_clean_output(env, smtp_sink, tmp_path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_API"))}
    run = subprocess.run([RECTIFY, "remind", "--as-of", "2024-01-31"], env={**clean, **env}, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "Traceback" not in out and "2024年1月31日" in out and "升级为督办" in out and "已发送              3" in out
    assert len(smtp_sink.received) == 3
    again = cli(env, "remind", "--as-of", "2024-01-31")
    assert again.exit_code == 0 and "邮件                0" in again.output and len(smtp_sink.received) == 3


def test_it_prints_who_would_get_what_on_a_dry_run_and_writes_nothing(env, rt, smtp_sink) -> None:
    res = cli(env, "remind", "--as-of", "2024-01-31", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "试运行" in res.output and "【整改督办】县财政局：1项整改任务逾期未完成，现予督办" in res.output
    with rt.sessions() as s:
        assert s.scalars(select(OutboxMessage)).all() == []
    assert smtp_sink.received == []


def test_it_says_so_on_a_day_off(env, smtp_sink) -> None:
    res = cli(env, "remind", "--as-of", "2024-02-12")
    assert res.exit_code == 0 and "不是工作日" in res.output and smtp_sink.received == []


def test_it_lists_and_retries_what_an_outage_left_in_the_outbox(env, smtp_sink) -> None:
    smtp_sink.stop()
    down = cli(env, "remind", "--as-of", "2024-01-31")
    assert down.exit_code == 1 and "待重发              3" in down.output  # undelivered mail is not success
    listed = cli(env, "outbox", "list")
    assert listed.exit_code == 0 and "pending: 3" in listed.output and "Error connecting to 127.0.0.1" in listed.output
    smtp_sink.start()
    retried = cli(env, "outbox", "retry")
    assert retried.exit_code == 0 and "sent 3 via SMTP 127.0.0.1" in retried.output
    assert sorted(len(v) for v in smtp_sink.by_recipient().values()) == [1, 1, 1]
    assert "sent: 3" in cli(env, "outbox", "list").output


def test_it_requeues_failed_mail_only_when_asked(env, smtp_sink, rt) -> None:
    with rt.sessions() as s:
        leader = s.scalars(select(factory.Person.email).where(factory.Person.role == "unit_leader")).one()
    smtp_sink.handler.refuse.add(leader)
    first = cli(env, "remind", "--as-of", "2024-01-31")
    assert first.exit_code == 1 and "发送失败            1" in first.output
    assert "failed: 1" in cli(env, "outbox", "list").output
    smtp_sink.handler.refuse.clear()  # the address was fixed at the mail server
    assert "sent 0" in cli(env, "outbox", "retry").output
    again = cli(env, "outbox", "retry", "--failed")
    assert again.exit_code == 0 and "requeued 1 failed message(s)" in again.output and "sent 1" in again.output
    assert len(smtp_sink.by_recipient()[leader]) == 1


def test_it_still_sends_when_the_configured_prefect_server_is_down(env, smtp_sink) -> None:
    from rectify.serving import free_port

    res = cli({**env, "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}, "remind", "--as-of", "2024-01-31")
    assert res.exit_code == 0, res.output
    assert "does not answer; running in this process" in res.output and len(smtp_sink.received) == 3


def test_it_refuses_to_run_on_an_empty_database(tmp_path) -> None:
    env = {"RECTIFY_DATA_DIR": str(tmp_path / "empty"), "RECTIFY_CONFIG": "", "PREFECT_API_URL": ""}
    for args in (["remind"], ["outbox", "list"], ["outbox", "retry"]):
        res = cli(env, *args)
        assert res.exit_code == 2 and "rectify init" in res.output
