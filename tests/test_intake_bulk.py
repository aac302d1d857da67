"""A first import big enough for the bulk write's shortcuts, on SQLite and PostgreSQL: constant columns written
into the INSERT, event data formatted as JSON text, and (SQLite) the findings' indexes rebuilt after the inserts
— the stored rows read back as imported and the schema comes out as it went in."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, text

from models import Event, Finding
from rectify.intake import bulk
from tests.support.intake import HEAD, NOW, csv_file, four_units, run

units = pytest.fixture(four_units, name="units")


def _schema(session) -> list[tuple[str, str]]:
    if session.get_bind().dialect.name == "sqlite":
        q = "SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('findings', 'events') ORDER BY name"
    else:
        q = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('findings', 'events') ORDER BY 1"
    return [tuple(r) for r in session.execute(text(q))]


def test_it_writes_a_big_first_import_as_typed_and_keeps_the_schema(session, rt, units, tmp_path) -> None:
    n = bulk.REBUILD_MIN + 17
    names = ["县财政", "城关镇", "教体局", "人社局"]
    deadlines = ["5个工作日内", "10日内", "长期坚持", "2024-03-31", "立行立改"]
    rows = [HEAD] + [[i, f"K-{i:05d}" if i % 7 else "", f"第{i % 3 + 1}督导组", f"2024-01-{10 + i % 5}",
                      names[i % 4], f"问题“{i}”（第{i}项）'引号'", "整改", deadlines[i % 5],
                      "张三" if i % 2 else "", ""] for i in range(1, n + 1)]
    before = _schema(session)
    source = csv_file(tmp_path / "大批'问题\".csv", rows)
    report = run(session, rt, source, round_name="2024年第一轮")
    session.commit()
    assert report.created == n and _schema(session) == before
    if session.get_bind().dialect.name == "sqlite":
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"

    found = {f.seq: f for f in session.scalars(select(Finding))}
    assert len(found) == n
    for i in (1, 7, 8, 5000 % n, n):
        f = found[i]
        assert f.problem == f"问题“{i}”（第{i}项）'引号'" and f.owner_name == ("张三" if i % 2 else "")
        assert f.code == (f"K-{i:05d}" if i % 7 else f.code) and f.code
        assert f.inspected_on == date(2024, 1, 10 + i % 5) and f.deadline_text == deadlines[i % 5]
        assert f.opinion == "整改" and f.note == "" and f.state == "open" and f.level == 0
        assert f.created_at == f.updated_at == NOW
    assert len({f.code for f in found.values()}) == n
    assert {f.code for f in found.values() if not f.seq % 7} == {f"R{found[7].round_id}-{k:04d}"
                                                                  for k in range(1, n // 7 + 1)}
    # The events' data as SQLAlchemy would have written it (json.dumps), read back raw and through the ORM.
    raw = dict(session.execute(text("SELECT finding_id, data FROM events")).all())
    events = session.scalars(select(Event)).all()
    assert len(events) == n and {e.kind for e in events} == {"import"} and {e.actor for e in events} == {"system"}
    seq_of = {f.id: f.seq for f in found.values()}
    for e in events:
        expected = {"source": source.name, "row": seq_of[e.finding_id] + 1}
        assert e.data == expected and e.at == NOW and e.to_state == "open" and e.from_state is None
        got = raw[e.finding_id]
        assert (got if isinstance(got, str) else json.dumps(got)) == json.dumps(expected)


def test_it_keeps_the_planner_statistics_of_the_rebuilt_indexes(session, rt, units, tmp_path) -> None:
    """SQLite: DROP INDEX deletes an index's sqlite_stat1 row; after the rebuild the import samples the table
    again, so the planner knows every findings index, not only those it did not rebuild."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps its own statistics")
    session.execute(text("ANALYZE"))
    session.commit()
    n = bulk.REBUILD_MIN + 3
    rows = [HEAD] + [[i, "", "第一督导组", "2024-01-10", "城关镇", f"问题{i}", "整改", "10日内", "", ""]
                     for i in range(1, n + 1)]
    report = run(session, rt, csv_file(tmp_path / "a.csv", rows), round_name="2024年第一轮")
    session.commit()
    assert report.created == n
    stats = dict(session.execute(text("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'findings'")).all())
    assert {"ix_findings_round_unit_problem", "ix_findings_state_due", "ix_findings_unit_state",
            "ix_findings_group_state"} <= set(stats)
    assert int(stats["ix_findings_round_unit_problem"].split()[0]) > n // 2  # sampled: an estimate of n
    assert session.execute(text("PRAGMA analysis_limit")).scalar() == 0
