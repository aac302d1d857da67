"""Where people see the calendar: 暂定 on provisional deadlines and the cliff warning (form, digest, ledger).

The clock is 2026-11-30: 2027 has no official schedule, so it is provisional and the warning is due.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pendulum
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from models import Round, SupervisionGroup, Unit
from rectify.bulletin.digest import build, render_digest
from rectify.intake.service import run_ledger_export
from rectify.services.calendar import cliff_warning
from tests.support import factory
from tests.web.helpers import login_token, open_link
from web.app import create_app

CLIFF = pendulum.datetime(2026, 11, 30, 9, 0, tz="Asia/Shanghai")
DUE = date(2027, 1, 12)  # 30个工作日内 from 2026-11-30, on the provisional 2027


def provisional_finding(rt, world) -> int:
    with rt.sessions() as s, s.begin():
        f = factory.finding(s, unit=s.get(Unit, world.unit_a), round=s.scalars(select(Round)).first(),
                            group=s.get(SupervisionGroup, world.group_1), due=DUE, inspected=date(2026, 11, 30),
                            kind="working_days", problem="台账不全")
        f.deadline_days, f.deadline_text = 30, "30个工作日内"
        return f.id


def test_it_marks_provisional_deadlines_and_warns_on_the_form(rt, world) -> None:
    fid = provisional_finding(rt, world)
    c = TestClient(create_app(rt, clock=lambda: CLIFF), follow_redirects=False)
    assert open_link(c, login_token(world.admin, now=CLIFF)).status_code == 303
    status = c.get("/status").text
    assert "2027年尚无国务院办公厅放假安排" in status and "rectify calendar import" in status
    page = c.get(f"/findings/{fid}").text
    assert "（暂定）" in page
    assert "（暂定）" in c.get("/findings").text


def test_it_warns_in_the_digest_and_marks_the_ledger(rt, world, tmp_path) -> None:
    provisional_finding(rt, world)
    d = build(rt, week_of=date(2026, 11, 30), today=date(2026, 11, 30))
    assert d.provisional == 1 and d.calendar_warning.startswith("2027年尚无国务院办公厅放假安排")
    r = render_digest(d, rt.settings)
    assert "提示：2027年尚无" in r.text and "2027年尚无" in r.html and "2027年尚无" in r.markdown
    run_ledger_export(rt, tmp_path / "台账.xlsx", as_of=date(2026, 11, 30))
    ws = load_workbook(tmp_path / "台账.xlsx").worksheets[0]
    marked = [c for row in ws.iter_rows() for c in row if c.value is not None and "暂定" in str(c.number_format)]
    assert [c.value.date() for c in marked] == [DUE]


def test_it_warns_only_from_the_configured_day(rt) -> None:
    cal = rt.calendar
    assert cliff_warning(cal, date(2026, 10, 31), "11-01") is None
    assert cliff_warning(cal, date(2026, 11, 1), "11-01") is not None
    assert cliff_warning(cal, date(2026, 11, 30), "12-15") is None
    assert cliff_warning(cal, date(2027, 3, 1), "11-01").startswith("2027年")  # living in a provisional year


def test_it_shows_a_replanned_deadline_in_the_history(rt, world) -> None:
    from rectify.services.calendar import import_notice

    fid = provisional_finding(rt, world)
    with rt.sessions() as s, s.begin():  # 50 working days: past the provisional 春节 (Feb 11 → Feb 16)
        f = s.get(factory.Finding, fid)
        f.deadline_days, f.due_date, f.original_due_date = 50, date(2027, 2, 11), date(2027, 2, 11)
    notice = (Path(__file__).parents[1] / "fixtures" / "notices" / "synthetic-notice-2027.txt").read_text("utf-8")
    assert [m.new for m in import_notice(rt, notice).moves] == [date(2027, 2, 16)]
    c = TestClient(create_app(rt, clock=lambda: CLIFF), follow_redirects=False)
    assert open_link(c, login_token(world.admin, now=CLIFF)).status_code == 303
    page = c.get(f"/findings/{fid}").text
    assert "放假安排公布，重新计算整改时限" in page and "2027-02-11 → 2027-02-16" in page
    assert "国办发明电〔2026〕99号" in page


def test_it_keeps_the_form_working_with_a_row_no_calendar_reaches(rt, world) -> None:
    with rt.sessions() as s, s.begin():
        bad = factory.finding(s, unit=s.get(Unit, world.unit_a), round=s.scalars(select(Round)).first(),
                              group=s.get(SupervisionGroup, world.group_1), due=date(2040, 6, 1), code="BROKEN-1").id
    c = TestClient(create_app(rt, clock=lambda: CLIFF), follow_redirects=False)
    assert open_link(c, login_token(world.admin, now=CLIFF)).status_code == 303
    for path in ("/findings", "/status", f"/findings/{bad}", f"/findings/{world.open_a}"):
        assert c.get(path).status_code == 200, path
    assert "BROKEN-1" in c.get("/findings").text
