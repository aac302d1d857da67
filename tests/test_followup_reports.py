"""签收及时率 and 进展按时率 where the office reads them, on SQLite and PostgreSQL: the weekly digest, the
bulletin's statistics and its 整改进展 section, the ledger's 签收时间 and 最新进展 (which still imports back).

The week of Monday 2024-03-18 (no holidays in March); everything goes through the real services and the run.
"""

from __future__ import annotations

from datetime import date, datetime

import docx
from openpyxl import load_workbook
from sqlalchemy import select

from models import Event, Finding, Person
from rectify.bulletin.digest import build, render_digest
from rectify.bulletin.issue import compile_issue
from rectify.core.followup import FollowupRules
from rectify.intake import export_ledger, import_findings
from rectify.services.access import Viewer
from rectify.services.daily import run_daily
from rectify.services.findings import Actor
from rectify.services.followup import acknowledge, mark_arrival, submit_progress
from rectify.services.followup_stats import followup_by_unit
from tests.support import factory
from tests.support.practice import at

AS_OF = date(2024, 3, 22)
RULES = FollowupRules()


def seed(rt) -> dict[str, int]:
    """县财政局: three findings arrive on 3月18日 (签收 due 3月19日): F-1 acknowledged 3月19日 (on time), F-2 on
    3月21日 (late), F-3 never; F-1 (far deadline) gets a progress report on 3月20日. 城关镇: F-4 (长期坚持) owes
    a report on 3月19日, misses it, and the run of 3月20日 records the miss."""
    with rt.sessions() as s, s.begin():
        r, g = factory.round_(s, "2024年第一轮督导"), factory.group(s)
        fin, town = factory.unit(s, "县财政局"), factory.unit(s, "城关镇", "township")
        town.sort_order = 1
        fs = {code: factory.finding(s, unit=fin, round=r, group=g, due=date(2024, 6, 28), code=code,
                                    problem=f"执法公示问题{n}")
              for code, n in (("F-1", "一"), ("F-2", "二"), ("F-3", "三"))}
        for f in fs.values():
            mark_arrival(f, date(2024, 3, 18), rt.calendar, RULES)
        long_term = factory.finding(s, unit=town, round=r, group=g, due=None, kind="long_term", code="F-4")
        long_term.progress_due_on = date(2024, 3, 19)
        contact = s.scalars(select(Person).where(Person.unit_id == fin.id, Person.role == "unit_contact")).one()
        me, actor = Viewer.of(contact), Actor.of(contact)
        acknowledge(s, fs["F-1"], me, actor, at(date(2024, 3, 19)), date(2024, 3, 19))
        acknowledge(s, fs["F-2"], me, actor, at(date(2024, 3, 21)), date(2024, 3, 21))
        submit_progress(s, fs["F-1"], me, actor, at(date(2024, 3, 20)), date(2024, 3, 20), rt.calendar, RULES,
                        text="已完成排查，正在制定方案")
        ids = {code: f.id for code, f in fs.items()} | {"F-4": long_term.id}
    run_daily(rt, date(2024, 3, 20), at(date(2024, 3, 20), 8), send=False)
    return ids


def test_it_counts_ack_and_progress_rates_per_unit(rt) -> None:
    seed(rt)
    with rt.sessions() as s:
        rows = {u.unit: u for u in followup_by_unit(s, date(2024, 3, 18), AS_OF, rt.settings.timezone)}
        assert s.scalars(select(Event.kind).where(Event.kind == "progress_missed")).all() == ["progress_missed"]
    fin, town = rows["县财政局"], rows["城关镇"]
    assert (fin.ack_due, fin.ack_on_time, fin.reports_on_time, fin.missed) == (3, 1, 1, 0)
    assert abs(fin.ack_rate - 1 / 3) < 1e-9 and fin.progress_rate == 1.0
    assert (town.ack_due, town.missed, town.ack_rate, town.progress_rate) == (0, 1, None, 0.0)
    with rt.sessions() as s:  # the week before had nothing due
        assert followup_by_unit(s, date(2024, 3, 11), date(2024, 3, 17), rt.settings.timezone) == []


def test_it_puts_the_rates_and_missed_reports_in_the_digest(rt) -> None:
    seed(rt)
    d = build(rt, week_of=AS_OF, today=AS_OF)
    m = render_digest(d, rt.settings)
    assert "1. 县财政局：应签收3个，按期签收1个，签收及时率33.3%；按期报送阶段性进展1次。" in m.text
    assert "2. 城关镇：本周无应签收问题；按期报送阶段性进展0次，未按期报送1次。" in m.text
    assert "| 县财政局 | 3 | 1 | 33.3% | 1 | 0 |" in m.markdown and "签收和进展反馈" in m.html


def test_it_prints_the_rates_and_the_progress_section_in_the_bulletin(rt, tmp_path) -> None:
    seed(rt)
    plain = compile_issue(rt, as_of=AS_OF, now=at(AS_OF, 17), pdf=False, draft=True, out_dir=tmp_path)
    r = compile_issue(rt, as_of=AS_OF, now=at(AS_OF, 17), pdf=False, draft=True, progress_section=True)
    doc = docx.Document(str(r.files["docx"]))
    texts = [p.text for p in doc.paragraphs]
    assert "五、签收和进展反馈" in texts
    rates = [[c.text for c in row.cells] for row in doc.tables[-1].rows]
    assert rates[0] == ["单位", "应签收", "按期签收", "签收及时率", "按期报送进展", "未按期报送进展", "进展按时率"]
    assert rates[1:] == [["县财政局", "3", "1", "33.3%", "1", "0", "100.0%"],
                         ["城关镇", "0", "0", "—", "0", "1", "0.0%"]]
    assert "整改进展" in texts and any("县财政局：执法公示问题一（F-1）。3月20日报送进展：已完成排查，正在制定方案" in t
                                     for t in texts)
    assert "整改进展" not in [p.text for p in docx.Document(str(plain.files["docx"])).paragraphs]  # only on request


def test_it_writes_ack_time_and_latest_progress_into_the_ledger_and_imports_it_back(rt, tmp_path) -> None:
    ids = seed(rt)
    out = tmp_path / "台账.xlsx"
    with rt.sessions() as s:
        export_ledger(s, out, calendar=rt.calendar, as_of=AS_OF, ladder=rt.ladder)
    ws = load_workbook(out).worksheets[0]
    head = [c.value for c in ws[1]]
    assert head[-2:] == ["签收时间", "最新进展"]
    line = {r[1]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert line["F-1"][-2:] == (datetime(2024, 3, 19, 10, 0), "2024-03-20 已完成排查，正在制定方案")
    assert line["F-3"][-2:] == (None, None)
    with rt.sessions() as s, s.begin():
        report = import_findings(s, out, calendar=rt.calendar, now=at(AS_OF))
        assert (report.created, report.updated, report.unchanged) == (0, 0, 4)
        assert s.get(Finding, ids["F-3"]).acknowledged_at is None
