"""督办通知 on SQLite and PostgreSQL: who gets one, per-year numbering, the DOCX as the office opens it, re-runs,
concurrent runs, and the attachment for the unit's mail."""

import re
import threading
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import docx
import pytest
from sqlalchemy import func, select

from models import Event, Notice
from rectify.bulletin.pdf import soffice, to_pdf
from rectify.config import default_ladder
from rectify.core.ladder import steps_from
from rectify.core.notices import NoticeError, crossed_supervise, next_number, notice_batches, reply_by
from rectify.mail.compose import build_message
from rectify.runtime import load_calendar
from rectify.services.notices import find_notice, issue_notices, list_notices, notice_attachment, notice_number
from tests.conftest import missing
from tests.support import factory
from tests.support import practice as step

LADDER = steps_from(default_ladder())  # 督办 is level 4
TODAY = date(2024, 3, 15)  # a Friday
NOW = datetime(2024, 3, 15, 0, 30, tzinfo=UTC)
SCRIPT = "执法公示<script>alert(1)</script>不到位"


def test_it_picks_the_findings_that_crossed_the_supervise_step_today() -> None:
    escalations = [(1, 10, 3, 4), (2, 10, 2, 4), (3, 11, 0, 5),  # to 督办, or past it to 通报 at once
                   (4, 11, 4, 5), (5, 12, 1, 3), (2, 10, 3, 4)]  # already had it; only 催办; a duplicate
    assert notice_batches(escalations, LADDER) == {10: [1, 2], 11: [3]}
    assert not crossed_supervise(0, 5, LADDER[:3])  # a ladder without 督办 issues no notices


def test_it_numbers_on_from_the_highest_and_counts_reply_days_in_working_days() -> None:
    assert (next_number([]), next_number([1, 2, 7])) == (1, 8)
    # 2月9日, then the 调休 Sunday 18日, 19日, 20日, 21日: the Spring Festival holiday does not count
    assert reply_by(date(2024, 2, 8), load_calendar(None), 5) == date(2024, 2, 21)


@pytest.fixture
def county(session):
    r, g = factory.round_(session), factory.group(session, "第二督导组")
    finance, police = factory.unit(session, "县财政局"), factory.unit(session, "县公安局")
    a = factory.finding(session, unit=finance, round=r, group=g, due=date(2024, 3, 1), level=4, problem=SCRIPT,
                        code="D-1")
    b = factory.finding(session, unit=finance, round=r, due=date(2024, 2, 23), level=4, code="D-2",
                        problem="合同审查台账不全")
    step.extend(session, b, asked=date(2024, 2, 20), new_due=date(2024, 3, 8))  # 原 2月23日, 现 3月8日
    b.level = 4
    c = factory.finding(session, unit=police, round=r, due=date(2024, 3, 1), level=4, code="D-3")
    session.commit()
    return finance, police, a, b, c


def test_it_renders_a_numbered_notice_naming_the_units_items(session, rt, county) -> None:
    finance, _, a, b, _ = county
    (notice,) = issue_notices(session, rt, TODAY, NOW, {finance.id: [b.id, a.id]})
    session.commit()
    assert (notice.year, notice.number, notice.reply_by, notice.finding_ids) == (2024, 1, date(2024, 3, 22),
                                                                                 [a.id, b.id])
    assert notice_number(notice) == "〔2024〕1号"
    path = rt.settings.data_dir.resolve() / "notices" / "2024" / "督办通知〔2024〕1号（县财政局）.docx"
    assert notice.file == str(path) and path.is_file()

    d = docx.Document(str(path))
    lines = [p.text for p in d.paragraphs if p.text.strip()]
    assert lines[:4] == ["指挥部办公室", "督办通知", "〔2024〕1号", "县财政局："]
    assert lines[4].startswith("经督导检查，你单位存在的以下2个问题已超过整改时限")
    assert "于2024年3月22日前将整改落实情况" in lines[5]
    assert lines[-3:] == ["指挥部办公室", "2024年3月15日", "抄送：第二督导组。"]
    (table,) = d.tables
    assert [[c.text for c in row.cells] for row in table.rows] == [
        ["编号", "问题", "整改意见", "原整改时限", "现整改时限", "逾期工作日"],
        ["D-1", SCRIPT, "限期整改", "3月1日", "3月1日", "10"],
        ["D-2", "合同审查台账不全", "限期整改", "2月23日", "3月8日", "5"]]
    assert str(d.paragraphs[1].style.font.color.rgb) == "FF0000"  # the red 版头, as the bulletin's
    events = session.scalars(select(Event).where(Event.kind == "notice").order_by(Event.finding_id)).all()
    assert [(e.finding_id, e.note, e.data["number"]) for e in events] == [(a.id, "〔2024〕1号", 1),
                                                                          (b.id, "〔2024〕1号", 1)]


def test_it_returns_the_same_notice_on_a_rerun_and_numbers_on_per_year(session, rt, county) -> None:
    finance, police, a, b, c = county
    first = issue_notices(session, rt, TODAY, NOW, {finance.id: [a.id]})[0]
    session.commit()
    again = issue_notices(session, rt, TODAY, NOW, {finance.id: [a.id, b.id], police.id: [c.id]})
    session.commit()
    assert [(n.id, n.number) for n in again] == [(first.id, 1), (again[1].id, 2)]
    assert again[0].finding_ids == [a.id]  # the day's notice stands as issued
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "notice")) == 2
    later = issue_notices(session, rt, date(2024, 3, 18), NOW, {finance.id: [b.id]})[0]
    next_year = issue_notices(session, rt, date(2025, 1, 6), NOW, {finance.id: [b.id]})[0]
    session.commit()
    assert (later.number, next_year.year, next_year.number) == (3, 2025, 1)
    assert notice_number(next_year) == "〔2025〕1号"
    assert next_year.file.endswith("2025/督办通知〔2025〕1号（县财政局）.docx")
    assert [notice_number(n) for n, _ in list_notices(session, 2024)] == ["〔2024〕1号", "〔2024〕2号", "〔2024〕3号"]
    assert find_notice(session, 2025, 1).id == next_year.id
    with pytest.raises(NoticeError, match="no 督办通知 number 4 of 2024"):
        find_notice(session, 2024, 4)


def test_it_refuses_findings_of_another_unit(session, rt, county) -> None:
    finance, _, _, _, c = county
    with pytest.raises(ValueError, match="only name its own findings"):
        issue_notices(session, rt, TODAY, NOW, {finance.id: [c.id]})


def test_it_gives_concurrent_runs_distinct_numbers_and_one_notice_per_unit_and_day(rt, county) -> None:
    finance, police, a, _, c = county
    start = threading.Barrier(3)
    got: list[object] = []

    def run(unit_id: int, fid: int) -> None:
        with rt.sessions() as s:
            start.wait()
            try:
                got.append([(n.unit_id, n.number) for n in issue_notices(s, rt, TODAY, NOW, {unit_id: [fid]})])
                s.commit()
            except Exception as exc:  # reported below, not swallowed
                got.append(exc)

    threads = [threading.Thread(target=run, args=args)
               for args in ((finance.id, a.id), (police.id, c.id), (finance.id, a.id))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not [g for g in got if isinstance(g, Exception)], got
    with rt.sessions() as s:
        numbers = dict(s.execute(select(Notice.unit_id, Notice.number)).all())
    assert sorted(numbers.values()) == [1, 2] and set(numbers) == {finance.id, police.id}
    assert sorted(got, key=str) == sorted([[(finance.id, numbers[finance.id])]] * 2
                                          + [[(police.id, numbers[police.id])]], key=str)


def test_it_attaches_the_notice_to_a_mail(session, rt, county) -> None:
    finance, _, a, _, _ = county
    (notice,) = issue_notices(session, rt, TODAY, NOW, {finance.id: [a.id]})
    session.commit()
    att = notice_attachment(notice)
    assert att.filename == "督办通知〔2024〕1号（县财政局）.docx" and att.data[:2] == b"PK"
    msg = build_message(from_addr="rectify@county.example", from_name="整改督办系统", to="unit@county.example",
                        subject="【督办】", text="见附件", html="<p>见附件</p>", now=NOW, attachments=(att,))
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == att.filename and part.get_content() == att.data
    assert part.get_content_type().endswith("wordprocessingml.document")
    notice.file = str(rt.settings.data_dir / "gone.docx")
    with pytest.raises(NoticeError, match="cannot read"):
        notice_attachment(notice)


def _files(rt) -> list[Path]:
    folder = rt.settings.data_dir / "notices" / "2024"
    return sorted(p for p in folder.iterdir()) if folder.is_dir() else []


def test_it_names_the_file_only_once_the_notice_is_committed(session, rt, county) -> None:
    finance, police, a, _, c = county
    (notice,) = issue_notices(session, rt, TODAY, NOW, {finance.id: [a.id]})
    assert not Path(notice.file).exists()  # rendered, but waiting under a hidden name for the commit
    assert [p.name.startswith(".notice-") for p in _files(rt)] == [True]
    session.commit()
    assert _files(rt) == [Path(notice.file)]
    issue_notices(session, rt, TODAY, NOW, {police.id: [c.id]})
    session.rollback()  # the row is gone, and so is its file
    assert _files(rt) == [Path(notice.file)]
    assert session.scalar(select(func.count()).select_from(Notice)) == 1


def test_it_takes_the_number_free_at_the_commit_when_another_run_numbered_meanwhile(rt, county) -> None:
    finance, police, a, _, c = county
    got: list[object] = []
    with rt.sessions() as first, rt.sessions() as second:
        (theirs,) = issue_notices(first, rt, TODAY, NOW, {finance.id: [a.id]})  # holds the numbering lock

        def run() -> None:  # reads the highest number (0), renders under 1, then waits for the lock
            try:
                got.extend(issue_notices(second, rt, TODAY, NOW, {police.id: [c.id]}))
                second.commit()
            except Exception as exc:  # reported below
                got.append(exc)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 30
        while len(_files(rt)) < 2 and time.monotonic() < deadline:  # the second run's file is rendered
            time.sleep(0.01)
        first.commit()
        t.join(60)
    (ours,) = got
    assert (theirs.number, ours.number) == (1, 2)
    assert docx.Document(ours.file).paragraphs[2].text == "〔2024〕2号"
    assert not [p for p in _files(rt) if p.name.startswith(".")]


def test_it_writes_a_small_docx_that_word_tools_open(session, rt, county) -> None:
    finance, _, a, b, _ = county
    (notice,) = issue_notices(session, rt, TODAY, NOW, {finance.id: [a.id, b.id]})
    session.commit()
    path = Path(notice.file)
    assert path.stat().st_size <= 15_000
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None and "word/document.xml" in z.namelist()
        assert "word/stylesWithEffects.xml" not in z.namelist()
    d = docx.Document(str(path))
    assert d.core_properties.title == "督办通知 〔2024〕1号" and d.core_properties.subject == "县财政局"
    assert d.sections[0].footer.paragraphs[0].text.startswith("— ")
    if soffice() is None:
        missing("LibreOffice", "soffice is not on PATH (apt-get install libreoffice-writer-nogui)")
    pdf = to_pdf(path, rt.settings.data_dir).read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 1
