"""Issuing 工作简报 第N期 on SQLite and PostgreSQL: the DOCX as the office opens it, numbering, each
closure in exactly one bulletin, drafts that record nothing, escaped HTML, concurrent issues."""

import re
import threading
from datetime import UTC, date, datetime

import docx
import pytest
from sqlalchemy import func, select

from models import Bulletin, BulletinItem
from rectify.bulletin.errors import BulletinError
from rectify.bulletin.issue import compile_issue
from rectify.bulletin.pdf import soffice
from rectify.bulletin.sections import parse_article
from rectify.config import BulletinSettings
from rectify.runtime import build_runtime
from tests.conftest import missing
from tests.support import bulletin_data
from tests.support.bulletin_data import AS_OF, LEAD, SCRIPT, TABLE

NOW = datetime(2024, 1, 19, 9, 0, tzinfo=UTC)
SERIES = BulletinSettings(
    title="鲁山县创建省级法治政府建设示范县 工作简报", issuer="鲁山县创建省级法治政府建设示范县指挥部办公室",
    start_issue=20, bao="市法治政府建设领导小组办公室", song="县省级法治政府建设示范创建指挥部政委、指挥长、副指挥长",
    fa="各乡（镇、街道），县委各部委，县直各单位", editors=["徐亚利", "陈宇"], copies=80)


@pytest.fixture
def county(settings, tmp_path):
    s = settings.model_copy(update={"bulletin": SERIES})
    rt = build_runtime(s)
    with rt.sessions() as session:
        data = bulletin_data.seed(session)
    yield rt, data
    rt.close()


def issue(rt, **kw):
    kw.setdefault("as_of", AS_OF)
    kw.setdefault("now", NOW)
    kw.setdefault("pdf", False)
    return compile_issue(rt, **kw)


def texts(document) -> list[str]:
    return [p.text for p in document.paragraphs if p.text.strip()]


def table_rows(table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def test_it_writes_the_docx_in_the_reference_layout(county) -> None:
    rt, _ = county
    r = issue(rt)
    assert r.issue_no == 20 and r.files["docx"].name == "工作简报第20期.docx"
    d = docx.Document(str(r.files["docx"]))
    lines = texts(d)
    assert lines[:4] == ["鲁山县创建省级法治政府建设示范县", "工作简报", "第 20 期",
                         "鲁山县创建省级法治政府建设示范县指挥部办公室\t2024年1月19日"]
    assert LEAD in lines
    assert lines.index("整改落实情况") < lines.index(LEAD)
    assert lines[-5:] == ["报：市法治政府建设领导小组办公室",
                          "送：县省级法治政府建设示范创建指挥部政委、指挥长、副指挥长",
                          "发：各乡（镇、街道），县委各部委，县直各单位", "编校：徐亚利、陈宇", "（共印 80 份）"]
    unit_table, items = d.tables
    assert table_rows(unit_table) == [["单位", "发现问题", "已销号", "未销号", "逾期（按原时限）", "逾期（按现时限）",
                                       "反弹", "完成率"], *TABLE]
    assert table_rows(items) == [["单位", "问题", "整改措施", "整改时限", "销号日期"],
                                 ["县公安局", SCRIPT, "已在政府网站公开执法信息", "1月31日", "1月18日"],
                                 ["县财政局", "合同审查台账不全", "补齐合同审查台账", "1月31日", "1月19日"]]
    assert "予以通报：县公安局（1个）。" in "".join(lines)


def test_it_sets_the_page_fonts_and_red_masthead_as_an_official_document(county) -> None:
    rt, _ = county
    d = docx.Document(str(issue(rt).files["docx"]))
    sec = d.sections[0]
    assert (sec.page_width.mm, sec.page_height.mm) == pytest.approx((210, 297), abs=0.1)
    assert [round(m.mm) for m in (sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin)] == [
        37, 35, 28, 26]
    masthead = d.paragraphs[1]
    assert masthead.style.font.color.rgb is not None and str(masthead.style.font.color.rgb) == "FF0000"
    xml = d.styles.element.xml
    assert 'w:eastAsia="方正小标宋简体"' in xml and 'w:eastAsia="仿宋_GB2312"' in xml and 'w:eastAsia="黑体"' in xml
    issuer_xml = d.paragraphs[3]._p.xml
    assert re.search(r'<w:bottom [^>]*w:color="FF0000"', issuer_xml)  # the red rule under the header
    assert 'w:val="single"' in d.tables[0]._tbl.xml  # tables with borders


def test_it_numbers_on_from_the_series_start_and_reports_each_closure_once(county) -> None:
    rt, data = county
    first = issue(rt)
    second = issue(rt, as_of=date(2024, 1, 26))
    assert (first.issue_no, second.issue_no) == (20, 21)
    assert (first.stats.new_closed, second.stats.new_closed) == (2, 1)
    assert [i.problem for i in second.stats.items] == ["规范性文件未备案"]  # closed 00:30 on the 20th
    with rt.sessions() as s:
        rows = s.execute(select(Bulletin.issue_no, BulletinItem.finding_id).join(BulletinItem.bulletin)
                         .order_by(BulletinItem.finding_id)).all()
        assert sorted(rows) == sorted([(20, f.id) for f in data.closed_in_period] + [(21, data.closed_next_day.id)])
        b = s.scalars(select(Bulletin).where(Bulletin.issue_no == 21)).one()
        assert b.period_start == date(2024, 1, 20) and b.files["docx"] == "工作简报第21期.docx"
        assert b.stats["found"] == 6 and b.stats["closed"] == 3
    third = issue(rt, as_of=date(2024, 1, 26))
    assert third.issue_no == 22 and third.stats.new_closed == 0 and third.stats.items == []


def test_it_records_nothing_for_a_draft_and_can_redraft(county) -> None:
    rt, _ = county
    a = issue(rt, draft=True)
    b = issue(rt, draft=True)
    assert a.issue_no == b.issue_no == 20 and a.files["docx"].name == "工作简报第20期（草稿）.docx"
    assert a.files["docx"].exists() and a.files["html"].exists()
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Bulletin)) == 0
        assert s.scalar(select(func.count()).select_from(BulletinItem)) == 0
    assert issue(rt).issue_no == 20


def test_it_refuses_a_number_already_issued_and_an_earlier_day(county) -> None:
    rt, _ = county
    issue(rt, issue_no=20)
    with pytest.raises(BulletinError, match="工作简报第20期 has already been issued"):
        issue(rt, issue_no=20, as_of=date(2024, 1, 26))
    with pytest.raises(BulletinError, match="already covers up to 2024-01-19"):
        issue(rt, as_of=date(2024, 1, 18))
    assert not list(rt.settings.bulletins_path.glob(".*"))  # no staging leftovers


def test_it_lets_only_one_of_two_concurrent_issues_through(county) -> None:
    rt, data = county
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        try:
            outcomes.append(issue(rt).issue_no)
        except BulletinError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(o for o in outcomes if isinstance(o, int)) == [20]
    assert [type(o) for o in outcomes if not isinstance(o, int)] == [BulletinError]
    lost = next(str(o) for o in outcomes if not isinstance(o, int))
    assert "工作简报第20期 was issued at the same time" in lost and "run the command again" not in lost
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Bulletin)) == 1
        assert s.scalar(select(func.count()).select_from(BulletinItem)) == len(data.closed_in_period)


def test_it_escapes_problem_text_in_the_html(county) -> None:
    rt, _ = county
    html = issue(rt).files["html"].read_text(encoding="utf-8")
    assert "执法信息公示&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;不到位" in html
    assert "<script" not in html
    assert "http://" not in html and "https://" not in html and "<link" not in html  # self-contained
    assert LEAD in html and "第 20 期" in html and "（共印 80 份）" in html


def test_it_places_office_articles_before_the_summary_with_a_contents_list(county) -> None:
    rt, _ = county
    arts = [parse_article("# 督导组调研督导法治政府创建工作\n\n本周，督导组开展督导。\n\n- 专班人员必谈\n"),
            parse_article("营造浓厚创建氛围\n\n开辟宣传阵地。<b>强调</b>\n")]
    r = issue(rt, articles=arts, draft=True)
    lines = texts(docx.Document(str(r.files["docx"])))
    news = lines.index("工作动态")
    assert lines[news + 1:news + 3] == ["◆ 督导组调研督导法治政府创建工作", "◆ 营造浓厚创建氛围"]
    assert news < lines.index("督导组调研督导法治政府创建工作") < lines.index("开辟宣传阵地。<b>强调</b>") \
        < lines.index("整改落实情况")
    html = r.files["html"].read_text(encoding="utf-8")
    assert "开辟宣传阵地。&lt;b&gt;强调&lt;/b&gt;" in html and html.index("工作动态") < html.index("整改落实情况")


def test_it_summarises_closures_per_unit_past_the_limit(county) -> None:
    rt, _ = county
    rt.settings.bulletin.item_list_limit = 1
    d = docx.Document(str(issue(rt).files["docx"]))
    assert table_rows(d.tables[1]) == [["单位", "本期销号数"], ["县公安局", "1"], ["县财政局", "1"], ["合计", "2"]]
    assert any(p.startswith("本期新增销号问题2个，涉及2个单位") for p in texts(d))


@pytest.mark.slow
def test_it_converts_the_docx_to_pdf_when_libreoffice_is_installed(county) -> None:
    if soffice() is None:
        missing("LibreOffice", "soffice is not on PATH (apt-get install libreoffice-writer-nogui)")
    rt, _ = county
    r = issue(rt, pdf=True)
    assert r.pdf_skipped == ""
    data = r.files["pdf"].read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 1
