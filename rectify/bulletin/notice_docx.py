"""The 督办通知 as DOCX, in the bulletin's official style (rectify.bulletin.docx_writer: page, fonts, red rule).

Layout of a 公文-style notice: the issuing office and 督办通知 in red, the 发文字号 (〔2024〕3号) above the red
rule, the unit addressed (主送), the paragraphs, the items table, the issuer and date at the right, and 抄送
to the supervision groups between black rules. Every word comes from templates/notice/ and [notice] labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from rectify.bulletin.document import Table, deadline_text
from rectify.bulletin.docx_writer import RED, _add_table, _border, _footer, _para, new_document, safe
from rectify.templating import cn_date, labels, render


@dataclass(frozen=True, slots=True)
class NoticeItem:
    code: str
    problem: str
    opinion: str
    original_due: date | None
    due: date | None
    overdue_days: int  # working days past the current deadline on the notice's day


@dataclass
class NoticeDocument:
    issuer: str
    title: str
    doc_no: str  # 〔2024〕3号
    addressee: str  # 主送: the unit
    before_table: list[str]
    table: Table
    after_table: list[str]
    date_text: str
    copy_to: str = ""
    items: list[NoticeItem] = field(default_factory=list)


def _lines(name: str, **ctx: object) -> list[str]:
    return [line.strip() for line in render(name, **ctx).splitlines() if line.strip()]


def doc_number(year: int, number: int) -> str:
    return render("notice/number.txt", year=year, number=number).strip()


def file_stem(doc_no: str, unit: str) -> str:
    """The file name without extension; characters no file system accepts become full-width or go."""
    stem = render("notice/filename.txt", doc_no=doc_no, unit=unit).strip()
    return stem.translate(str.maketrans({"/": "／", "\\": "＼", ":": "：", "*": "＊", "?": "？", '"': "＂",
                                         "<": "＜", ">": "＞", "|": "｜"})).replace("\x00", "")


def build_notice(*, issuer: str, year: int, number: int, unit: str, items: list[NoticeItem], issued_on: date,
                 reply_by: date, groups: list[str]) -> NoticeDocument:
    ctx = {"items": items, "unit": unit, "issuer": issuer, "reply_by": reply_by, "issued_on": issued_on}
    rows = [[i.code, i.problem, i.opinion, deadline_text(i.original_due), deadline_text(i.due), str(i.overdue_days)]
            for i in items]
    return NoticeDocument(
        issuer=issuer,
        title=render("notice/title.txt").strip(),
        doc_no=doc_number(year, number),
        addressee=unit,
        before_table=_lines("notice/body.txt", **ctx),
        table=Table(header=list(labels()["notice"]["item_table"]), rows=rows, widths=[2.1, 3.2, 2.4, 1.6, 1.6, 1.2],
                    numeric_from=3),
        after_table=_lines("notice/closing.txt", **ctx),
        date_text=cn_date(issued_on, year=True),
        copy_to=render("notice/copy_to.txt", groups=groups).strip(),
        items=items,
    )


def write_notice_docx(d: NoticeDocument, path: Path) -> Path:
    doc, objs = new_document()
    cp = doc.core_properties
    cp.title, cp.author, cp.subject = safe(f"{d.title} {d.doc_no}"), safe(d.issuer), safe(d.addressee)

    # The red 版头: the office's name on one line where it fits (up to 22 pt), 督办通知 large below it.
    for text, size in ((d.issuer, min(22, 440 // max(len(d.issuer), 1))), (d.title, 36)):
        p = doc.add_paragraph(style=objs["masthead"])
        p.add_run(safe(text)).font.size = Pt(max(size, 14))
    number = _para(doc, d.doc_no, objs["issue"])
    _border(number, "bottom", RED, 18, 4)

    addressee = _para(doc, d.addressee + "：", objs["body"])
    addressee.paragraph_format.first_line_indent = Pt(0)
    for text in d.before_table:
        _para(doc, text, objs["body"])
    _add_table(doc, d.table, objs["cell"].style_id)
    for text in d.after_table:
        _para(doc, text, objs["body"])

    doc.add_paragraph(style=objs["body"])
    for i, text in enumerate((d.issuer, d.date_text)):  # 署名 and 成文日期, right-aligned, 4 characters in
        p = _para(doc, text, objs["body"])
        pf = p.paragraph_format
        pf.alignment, pf.first_line_indent, pf.right_indent = WD_ALIGN_PARAGRAPH.RIGHT, Pt(0), Pt(16 * 2)
        if i == 0:
            pf.space_before, pf.keep_with_next = Pt(12), True

    if d.copy_to:  # 版记
        p = _para(doc, d.copy_to, objs["closing"])
        p.paragraph_format.space_before = Pt(12)
        _border(p, "top", "000000", 8, 4)
        _border(p, "bottom", "000000", 8, 4)
    _footer(doc, objs["footer"])
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path
