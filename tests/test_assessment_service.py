"""考评 from the database (both backends): the queries behind `rectify assess`, and the command."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl

from models import Event, ProgressReport
from rectify.services.access import Viewer, visible
from rectify.services.assessment import assess_runtime
from tests.support import factory

CN = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CN)


def seed(s) -> dict[str, int]:
    a, b = factory.unit(s, "县财政局"), factory.unit(s, "县教育局")
    g, other = factory.group(s), factory.group(s, "第二督导组")
    r = factory.round_(s)
    f1 = factory.finding(s, unit=a, round=r, group=g, due=date(2024, 1, 15), state="closed")
    f1.reported_at, f1.closed_at = at("2024-01-12"), at("2024-01-16")
    factory.finding(s, unit=a, round=r, group=g, due=date(2024, 1, 10))  # overdue: 督办 01-17, 通报 01-24
    f3 = factory.finding(s, unit=b, round=r, group=other, due=date(2024, 1, 20), state="closed")
    f3.original_due_date = date(2024, 1, 12)  # extended; 01-12 + 5 working days = 01-19, the day it was done
    f3.reported_at = f3.closed_at = at("2024-01-19")
    f3.ack_due_on = date(2024, 1, 5)  # never acknowledged
    f4 = factory.finding(s, unit=b, round=r, group=other, due=date(2024, 3, 1))
    f4.ack_due_on, f4.acknowledged_at = date(2024, 1, 5), at("2024-01-04")
    s.add_all([
        Event(finding_id=f4.id, at=at("2024-01-25"), kind="reopen", note="回头看发现反弹"),
        ProgressReport(finding_id=f4.id, at=at("2024-01-10"), text="已完成方案", evidence=[],
                       due_on=date(2024, 1, 10), on_time=True),
        Event(finding_id=f4.id, at=at("2024-01-25", 1), kind="progress_missed", data={"due_on": "2024-01-24"}),
        Event(finding_id=f4.id, at=at("2024-02-08", 1), kind="progress_missed", data={"due_on": "2024-02-07"}),
    ])
    s.commit()
    return {"a": a.id, "b": b.id, "group": g.id}


def test_it_ranks_units_by_the_documented_formula(rt) -> None:
    with rt.sessions() as s:
        ids = seed(s)
    a = assess_runtime(rt, start=date(2024, 1, 1), end=date(2024, 1, 31))
    first, second = a.ranking
    assert (first.rank, first.unit, second.rank, second.unit) == (1, "县财政局", 2, "县教育局")
    c = first.c
    assert (c.on_time_original, c.due_original, c.overdue, c.escalations, c.ack_due, c.progress_due) == (1, 2, 1, 2,
                                                                                                          0, 0)
    assert first.score == 60 * 0.5 + 20 + 20 - 2 * 1 - 1 * 2  # 66.0
    c = second.c
    assert (c.on_time, c.due, c.on_time_original, c.due_original) == (1, 1, 0, 1)  # on time only when extended
    assert (c.ack_on_time, c.ack_due, c.progress_on_time, c.progress_due) == (1, 2, 1, 2)
    assert (c.escalations, c.rebounds, c.overdue) == (1, 1, 0)
    assert second.score == 0 + 20 * 0.5 + 20 * 0.5 - 1 - 3  # 16.0

    # a supervisor ranks by their group's findings only
    group_only = assess_runtime(rt, start=date(2024, 1, 1), end=date(2024, 1, 31),
                                scope=visible(Viewer(0, "supervisor", group_id=ids["group"])))
    assert [r.unit for r in group_only.ranking] == ["县财政局"]


def test_it_prints_the_ranking_and_writes_the_xlsx(rt, tmp_path) -> None:
    from tests.support.envvars import rectify_env
    from tests.test_cli_bulletin import rectify

    with rt.sessions() as s:
        seed(s)
    env = rectify_env(rt.settings)
    out = tmp_path / "考评.xlsx"
    res = rectify("assess", "--from", "2024-01-01", "--to", "2024-01-31", "--out", str(out), cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert "排名" in res.stdout and "县财政局" in res.stdout and "66.0" in res.stdout and "50.0%（1/2）" in res.stdout
    ws = openpyxl.load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][:4] == ("排名", "单位", "得分", "按期销号率")
    assert rows[2][:3] == (1, "县财政局", 66.0) and rows[3][:3] == (2, "县教育局", 16.0)

    bad = rectify("assess", "--from", "2024-02-01", "--to", "2024-01-31", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "is after --to" in bad.stderr and "Traceback" not in bad.stderr
    bad = rectify("assess", "--out", str(tmp_path / "x.csv"), cwd=tmp_path, env=env)
    assert bad.returncode == 2 and ".xlsx" in bad.stderr and not (tmp_path / "x.csv").exists()


def test_it_carries_the_top_and_bottom_five_in_the_weekly_digest(rt) -> None:
    from rectify.bulletin.digest import build, render_digest
    from tests.support import factory

    with rt.sessions() as s:
        seed(s)
        r = factory.round_(s, "第二轮")
        for i in range(1, 6):  # seven units: five on the 红榜, the last two on the 黑榜; 测试乡i owes i overdue items
            u = factory.unit(s, f"测试乡{i}", kind="township")
            for k in range(i):
                factory.finding(s, unit=u, round=r, due=date(2024, 1, 8 + k))
        s.commit()
    d = build(rt, week_of=date(2024, 1, 31), today=date(2024, 1, 31))
    assert d.ranking_start == date(2024, 1, 2)
    # 测试乡i: 40 points for 签收/进展 with nothing due, less 2 per overdue item and 2 × (督办 + 通报) each
    assert [(x.unit, x.score) for x in d.honour] == [("县财政局", 66.0), ("测试乡1", 36.0), ("测试乡2", 32.0),
                                                    ("测试乡3", 28.0), ("测试乡4", 24.0)]
    assert [(x.unit, x.score) for x in d.shame] == [("测试乡5", 20.0), ("县教育局", 16.0)]
    text = render_digest(d, rt.settings).text
    assert "考评红黑榜（1月2日至1月31日）" in text and "红榜：1. 县财政局（66.0分）；2. 测试乡1（36.0分）" in text
    assert "黑榜：6. 测试乡5（20.0分，逾期未整改5个）；7. 县教育局（16.0分，逾期未整改0个）" in text


def test_it_adds_the_ranking_to_a_bulletin_on_request(rt, tmp_path) -> None:
    from docx import Document

    from rectify.bulletin.issue import compile_issue
    from rectify.bulletin.sections import split_sections

    with rt.sessions() as s:
        seed(s)
    files, named = split_sections(["ranking", str(tmp_path / "动态.md")])
    assert named == {"ranking"} and files == [tmp_path / "动态.md"]
    plain = compile_issue(rt, as_of=date(2024, 1, 31), now=at("2024-01-31"), draft=True, pdf=False,
                          out_dir=tmp_path / "a")
    assert "考评排名" not in plain.files["html"].read_text(encoding="utf-8")
    r = compile_issue(rt, as_of=date(2024, 1, 31), now=at("2024-01-31"), draft=True, pdf=False, ranking=True,
                      out_dir=tmp_path / "b")
    html = r.files["html"].read_text(encoding="utf-8")
    # numbered after 五、签收和进展反馈, which this period has (a 签收 fell due)
    assert "五、签收和进展反馈" in html and "六、考评排名" in html and "考评期间：2024年1月2日至2024年1月31日" in html
    part = html.index("六、考评排名")
    assert part > html.index("五、签收和进展反馈") and html.index("县财政局", part) < html.index("县教育局", part)
    cells = [c.text for t in Document(str(r.files["docx"])).tables for row in t.rows for c in row.cells]
    assert "按原时限按期销号率" in cells and "66.0" in cells and "16.0" in cells
