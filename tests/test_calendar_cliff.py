"""The done-when of issue 11, on a fresh database (SQLite and PostgreSQL) with the clock at 2026-11-30.

A sheet inspected on 2026-11-30 with "30个工作日内" imports; `rectify remind` runs on 2026-12-31 and on
2027-01-04 (2027 is provisional: no notice yet); importing a 2027 notice re-plans what was computed on it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from typer.testing import CliRunner

from models import CalendarYear, Event, Finding, OutboxBody, OutboxMessage
from rectify.cli.main import app
from tests.support import factory
from tests.support.envvars import rectify_env

NOTICES = Path(__file__).parent / "fixtures" / "notices"
SYNTHETIC_2027 = NOTICES / "synthetic-notice-2027.txt"
HEAD = ["序号", "编号", "督导组", "督导日期", "责任单位", "问题描述", "整改意见", "整改时限", "责任人", "备注"]


@pytest.fixture
def env(settings, rt, tmp_path) -> dict[str, str]:
    with rt.sessions() as s, s.begin():
        factory.group(s, "第一督导组", members=1)
        factory.unit(s, "县财政局")
    return rectify_env(settings, RECTIFY_CONFIG="", PREFECT_API_URL="")


def cli(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def sheet(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "问题清单"
    ws.append(HEAD)
    ws.append([1, "C-30", "第一督导组", "2026-11-30", "县财政局", "台账不全", "完善台账", "30个工作日内", "", ""])
    ws.append([2, "C-50", "第一督导组", "2026-11-30", "县财政局", "制度缺失", "建立制度", "50个工作日内", "", ""])
    ws.append([3, "C-FIX", "第一督导组", "2026-11-30", "县财政局", "公开滞后", "及时公开", "2027年1月15日前", "", ""])
    wb.save(path)
    return path


def message_text(raw: bytes) -> str:
    from email import message_from_bytes, policy

    msg = message_from_bytes(raw, policy=policy.default)
    return msg.get_body(preferencelist=("plain",)).get_content()


def dues(rt) -> dict[str, date]:
    with rt.sessions() as s:
        return {f.code: f.due_date for f in s.scalars(select(Finding))}


def test_it_keeps_the_county_running_across_the_new_year(env, rt, tmp_path) -> None:
    res = cli(env, "findings", "import", str(sheet(tmp_path / "清单.xlsx")), "--round", "2026年第四轮督导")
    assert res.exit_code == 0, res.output
    # 2027 is provisional: 元旦 off, no 调休; 50 working days reach past 春节 (除夕 2/5 to 初三 2/8).
    assert dues(rt) == {"C-30": date(2027, 1, 12), "C-50": date(2027, 2, 11), "C-FIX": date(2027, 1, 15)}

    status = cli(env, "calendar", "status")
    assert status.exit_code == 0, status.output
    assert "2027–2031  provisional" in status.output and "provisional (暂定) among them: 2027" in status.output

    for day in ("2026-12-31", "2027-01-04"):
        res = cli(env, "remind", "--as-of", day)
        assert res.exit_code == 0, res.output
        assert "暂定期限            3" in res.output and "error" not in res.output
        assert "2027年尚无国务院办公厅放假安排" in res.output and "rectify calendar import" in res.output
    res = cli(env, "remind", "--as-of", "2027-01-07")  # C-30 is due in 3 working days: 提醒, marked 暂定
    assert res.exit_code == 0 and "邮件                1" in res.output, res.output
    with rt.sessions() as s:
        # that day's letter (the import also asked for 签收 in the earlier runs' letters: issue 15)
        letter = s.scalars(select(OutboxBody.message).join(OutboxMessage, OutboxMessage.id == OutboxBody.id)
                           .where(OutboxMessage.kind == "daily", OutboxMessage.day == date(2027, 1, 7))).one()
    text = message_text(letter)
    assert "C-30" in text and "2027年1月12日（暂定）" in text

    dry = cli(env, "calendar", "import", str(SYNTHETIC_2027), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert '"document": "国办发明电〔2026〕99号"' in dry.output and '"code": "C-50"' in dry.output
    assert '"from": "2027-02-11"' in dry.output and '"to": "2027-02-16"' in dry.output
    with rt.sessions() as s:
        assert s.scalars(select(CalendarYear)).all() == []  # a dry run stores nothing
    assert dues(rt)["C-50"] == date(2027, 2, 11)

    res = cli(env, "calendar", "import", str(SYNTHETIC_2027))
    assert res.exit_code == 0, res.output
    assert "moved 1 deadline(s)" in res.output and "C-50  50个工作日内  2027-02-11 → 2027-02-16" in res.output
    assert dues(rt) == {"C-30": date(2027, 1, 12), "C-50": date(2027, 2, 16), "C-FIX": date(2027, 1, 15)}
    with rt.sessions() as s:
        ev = s.scalars(select(Event).where(Event.kind == "deadline_replanned")).one()
        assert ev.data["document"] == "国办发明电〔2026〕99号" and "2027-02-11 → 2027-02-16" in ev.note
    # Another process (this test's own runtime, as a worker or the form) sees the imported year.
    assert rt.refresh_calendar().sources[2027] == "notice 国办发明电〔2026〕99号"
    assert rt.calendar.is_working_day(date(2027, 1, 31))  # the notice's 调休 Sunday
    shown = cli(env, "calendar", "show", "2027", "--json")
    assert shown.exit_code == 0 and '"source": "notice 国办发明电〔2026〕99号"' in shown.output
    again = cli(env, "calendar", "import", str(SYNTHETIC_2027))
    assert again.exit_code == 0 and "unchanged" in again.output and dues(rt)["C-50"] == date(2027, 2, 16)


def test_it_refuses_a_bad_notice_with_one_line_and_stores_nothing(env, rt, tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(SYNTHETIC_2027.read_text(encoding="utf-8").replace("1月1日（周五）", "1月1日（周六）")
                    .encode("gb18030"))
    res = cli(env, "calendar", "import", str(bad))
    assert res.exit_code == 2 and "the notice says 周六" in res.output and "Traceback" not in res.output
    with rt.sessions() as s:
        assert s.scalars(select(CalendarYear)).all() == []
    assert cli(env, "calendar", "show", "2027", "--json").output.count('"source": "provisional"') == 1
    piped = CliRunner().invoke(app, ["calendar", "import", "-", "--dry-run", "--json"], env=env,
                               input=SYNTHETIC_2027.read_bytes())
    assert piped.exit_code == 0 and '"year": 2027' in piped.output and '"dry_run": true' in piped.output
