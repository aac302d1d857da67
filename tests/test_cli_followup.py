"""`rectify ack`, `rectify progress` and `rectify followup` as an office runs them: a subprocess configured by
RECTIFY_*; bad input is one line on stderr, exit 2, nothing written."""

from datetime import date

from sqlalchemy import select

from models import Event, Finding, Person, ProgressReport
from rectify.config import Settings
from rectify.db import migrate
from rectify.runtime import build_runtime
from tests.support import factory
from tests.test_cli_notices import rectify


def _county(data):
    rt = build_runtime(Settings(data_dir=data, secret_key="cli-secret-" + "x" * 32))
    migrate(rt.engine)
    with rt.sessions() as s:
        r = factory.round_(s)
        fin, edu = factory.unit(s, "县财政局"), factory.unit(s, "县教育局")
        a = factory.finding(s, unit=fin, round=r, due=None, kind="long_term", code="A-1")
        b = factory.finding(s, unit=fin, round=r, code="A-2")
        c = factory.finding(s, unit=edu, round=r, code="B-1")
        for f in (a, b, c):  # arrived: 签收 due 2026-11-27, a progress report owed by a far day
            f.ack_due_on = date(2026, 11, 27)
        a.progress_due_on = date(2026, 12, 31)
        emails = {p.role + str(p.unit_id): p.email for p in s.scalars(select(Person))}
        s.commit()
        ids = {"fin": fin.id, "edu": edu.id}
    return rt, {k: emails[f"unit_contact{v}"] for k, v in ids.items()}


def test_it_acknowledges_reports_progress_and_tabulates_from_the_terminal(tmp_path) -> None:
    data = tmp_path / "var"
    rt, contact = _county(data)
    one = rectify("ack", "A-2", "--as", contact["fin"], cwd=tmp_path, data=data)
    assert one.returncode == 0, one.stderr
    assert "acknowledged 1 finding(s)" in one.stdout
    rest = rectify("ack", "--as", contact["fin"], cwd=tmp_path, data=data)
    assert rest.returncode == 0 and "acknowledged 1 finding(s) of the unit" in rest.stdout
    done = rectify("progress", "A-1", "--text", "已制定方案，正在推进", "--as", contact["fin"], cwd=tmp_path, data=data)
    assert done.returncode == 0, done.stderr
    assert "A-1: progress recorded (on time, due 2026-12-31)" in done.stdout
    table = rectify("followup", "--from", "2026-11-23", "--to", "2026-11-29", cwd=tmp_path, data=data)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(line.startswith("县教育局") and "0.0%" in line for line in lines)
    with rt.sessions() as s:
        acked = {code: at is not None for code, at in s.execute(select(Finding.code, Finding.acknowledged_at))}
        assert acked == {"A-1": True, "A-2": True, "B-1": False}
        assert s.scalars(select(ProgressReport.text)).all() == ["已制定方案，正在推进"]
    rt.close()


def test_it_refuses_strangers_other_units_and_empty_text_writing_nothing(tmp_path) -> None:
    data = tmp_path / "var"
    rt, contact = _county(data)
    cases = [
        (("ack", "B-1", "--as", contact["fin"]), "may not acknowledge"),
        (("ack", "Z-9", "--as", contact["fin"]), "no finding with 编号 Z-9"),
        (("ack", "--as", "nobody@x.example"), "no active person"),
        (("ack", "A-1"), "--as EMAIL is required"),
        (("progress", "A-1", "--text", " ", "--as", contact["fin"]), "needs its text"),
        (("progress", "B-1", "--text", "x", "--as", contact["fin"]), "may not report progress"),
    ]
    for args, message in cases:
        res = rectify(*args, cwd=tmp_path, data=data)
        assert res.returncode == 2 and message in res.stderr, (args, res.stderr)
        assert "Traceback" not in res.stderr
    with rt.sessions() as s:
        assert s.scalars(select(Event.kind)).all() == []
        assert s.scalars(select(ProgressReport)).all() == []
    rt.close()
