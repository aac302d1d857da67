"""The 督办通知 as DOCX, in the bulletin's official style (rectify.bulletin.docx_writer: page, fonts, red rule).

Layout of a 公文-style notice: the issuing office and 督办通知 in red, the 发文字号 (〔2024〕3号) above the red
rule, the unit addressed (主送), the paragraphs, the items table, the issuer and date at the right, and 抄送
to the supervision groups between black rules. Every word comes from templates/notice/ and [notice] labels.

A first-day run issues thousands of notices, and python-docx takes ~30 ms for one. So python-docx lays out
one specimen notice per process (`_template`), with marker texts; its parts are kept compressed, its
document.xml is cut into the XML of each kind of paragraph, and each notice is then that XML filled with
escaped text and zipped by hand around the stored parts (rectify.bulletin.ziptemplate): well under 2 ms.
Parts Word does not need (a thumbnail, stylesWithEffects, customXml, unused styles) are left out, so a
notice is ~5 KB instead of ~40 KB.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from rectify.bulletin import specimen_cache
from rectify.bulletin.document import Table, deadline_text
from rectify.bulletin.wordml import TEXT_WIDTH_TWIPS, W_DECL, safe, table_xml
from rectify.bulletin.ziptemplate import ZipTemplate
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


_deadline = lru_cache(maxsize=4096)(deadline_text)  # a few hundred distinct dates in a run


def build_notice(*, issuer: str, year: int, number: int, unit: str, items: list[NoticeItem], issued_on: date,
                 reply_by: date, groups: list[str]) -> NoticeDocument:
    ctx = {"items": items, "unit": unit, "issuer": issuer, "reply_by": reply_by, "issued_on": issued_on}
    rows = [[i.code, i.problem, i.opinion, _deadline(i.original_due), _deadline(i.due), str(i.overdue_days)]
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


def _issuer_size(issuer: str) -> int:
    """The office's name on one line where it fits: up to 22 pt, at least 14 pt."""
    return max(min(22, 440 // max(len(issuer), 1)), 14)


def _python_docx(d: NoticeDocument):  # -> (docx Document, cell style id)
    """The notice laid out with python-docx: done once per process, for the specimen."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    from rectify.bulletin.docx_writer import RED, _add_table, _border, _footer, _para, new_document, safe

    doc, objs = new_document()
    cp = doc.core_properties
    cp.title, cp.author, cp.subject = safe(f"{d.title} {d.doc_no}"), safe(d.issuer), safe(d.addressee)
    for text, size in ((d.issuer, _issuer_size(d.issuer)), (d.title, 36)):  # the red 版头
        p = doc.add_paragraph(style=objs["masthead"])
        p.add_run(safe(text)).font.size = Pt(size)
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
    p = _para(doc, d.copy_to, objs["closing"])  # 版记
    p.paragraph_format.space_before = Pt(12)
    _border(p, "top", "000000", 8, 4)
    _border(p, "bottom", "000000", 8, 4)
    _footer(doc, objs["footer"])
    return doc, objs["cell"].style_id


# The specimen's texts: each marks where a notice's own text goes.
_M = {k: f"QQ{k.upper()}QQ" for k in ("issuer", "title", "no", "unit", "body", "after", "date", "copy")}
_SLOT = "\x00"
_NS_DECL = re.compile(r' xmlns:\w+="[^"]*"')
# Parts a notice does without: Word 2010's duplicate styles, the template's thumbnail and custom XML, and
# the optional parts nothing in a notice refers to (the theme: every style names its fonts; numbering: no
# lists; the font table and web settings: Word rebuilds them; app.xml: the producing application). A
# notice travels in a letter to each unit contact and leader, so every kilobyte counts a few thousand times.
_DROP = ("word/stylesWithEffects.xml", "docProps/thumbnail.jpeg", "customXml/", "word/theme/", "word/numbering.xml",
         "word/fontTable.xml", "word/webSettings.xml", "docProps/app.xml")
_DROP_REFS = ("stylesWithEffects.xml", "thumbnail.jpeg", "customXml/", "theme/theme1.xml", "numbering.xml",
              "fontTable.xml", "webSettings.xml", "docProps/app.xml")  # as relationships name them
# Settings a notice does without: edit-session ids, math and drawing defaults, the theme's colour mapping.
_SETTINGS_DROP = re.compile(r"<w:rsids>.*?</w:rsids>|<m:mathPr>.*?</m:mathPr>|<w:shapeDefaults>.*?</w:shapeDefaults>"
                            r"|<w:(?:clrSchemeMapping|themeFontLang|proofState|zoom|savePreviewPicture"
                            r"|doNotAutoCompressPictures)\b[^>]*/>|<w14:\w+\b[^>]*/>", re.S)


@dataclass(frozen=True)
class _Template:
    zip: ZipTemplate
    head: str  # document.xml up to <w:body>
    tail: str  # the section properties and the closing tags
    para: dict[str, tuple[str, ...]]  # kind → XML around each slot
    core: tuple[str, ...]  # docProps/core.xml around title, subject, author
    cell_style: str


def _fragment(xml: str, marker: str) -> tuple[str, ...]:
    xml = _NS_DECL.sub("", xml, count=0)
    return tuple(xml.replace(f"<w:t>{marker}</w:t>", f'<w:t xml:space="preserve">{_SLOT}</w:t>').split(_SLOT))


@cache
def _template() -> _Template:
    """The specimen's pieces: from the disk cache (rectify.bulletin.specimen_cache) when this code and this
    python-docx made them before, else laid out with python-docx (~0.2 s and its import) and stored."""
    pieces = specimen_cache.load(_SOURCES)
    if pieces is None:
        pieces = _specimen_pieces()
        specimen_cache.store(_SOURCES, pieces)
    parts, head, tail, para, core, cell_style = pieces
    return _Template(zip=ZipTemplate(parts, fill=("docProps/core.xml", "word/document.xml")), head=head, tail=tail,
                     para=para, core=core, cell_style=cell_style)


# What the specimen is made from: a change to any of these files (or to python-docx) makes a new one.
_SOURCES = ("notice_docx.py", "docx_writer.py", "wordml.py")


def _specimen_pieces() -> tuple:
    from lxml import etree

    from rectify.bulletin.docx_writer import slim_styles

    m = _M
    specimen = NoticeDocument(issuer=m["issuer"], title=m["title"], doc_no=m["no"], addressee=m["unit"],
                              before_table=[m["body"]], table=Table(header=["x"], rows=[], widths=[1.0]),
                              after_table=[m["after"]], date_text=m["date"], copy_to=m["copy"])
    doc, cell_style = _python_docx(specimen)
    buf = BytesIO()
    doc.save(buf)
    parts = ZipTemplate.read_parts(buf.getvalue())
    document = parts.pop("word/document.xml").decode()
    core = parts.pop("docProps/core.xml").decode()
    parts = {name: data for name, data in parts.items() if not name.startswith(_DROP)}
    parts["word/settings.xml"] = _SETTINGS_DROP.sub("", parts["word/settings.xml"].decode()).encode()
    parts["word/styles.xml"] = slim_styles(parts["word/styles.xml"], [document, parts["word/footer1.xml"].decode()])
    for rels in ("_rels/.rels", "word/_rels/document.xml.rels", "[Content_Types].xml"):
        text = parts[rels].decode()
        for ref in _DROP_REFS:
            text = re.sub(rf'<(?:Relationship|Override)\b[^>]*="[^"]*{re.escape(ref)}[^"]*"[^>]*/>', "", text)
        parts[rels] = text.encode()

    body = etree.fromstring(document.encode()).find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}body")
    kids = [etree.tostring(k, encoding="unicode") for k in body]
    # 0 issuer, 1 title, 2 number, 3 addressee, 4 a body line, 5 table, 6 after, 7 blank, 8 signer, 9 date,
    # 10 copy-to, 11 sectPr
    issuer = kids[0].replace(f'<w:sz w:val="{2 * _issuer_size(m["issuer"])}"/>', f'<w:sz w:val="{_SLOT}"/>')
    para = {"issuer": _fragment(issuer, m["issuer"]), "title": _fragment(kids[1], m["title"]),
            "no": _fragment(kids[2], m["no"]), "unit": _fragment(kids[3], m["unit"] + "："),
            "body": _fragment(kids[4], m["body"]), "blank": (_NS_DECL.sub("", kids[7]),),
            "signer": _fragment(kids[8], m["issuer"]), "date": _fragment(kids[9], m["date"]),
            "copy": _fragment(kids[10], m["copy"])}
    assert len(para["issuer"]) == 3 and all(len(v) == 2 for k, v in para.items() if k not in ("issuer", "blank")), \
        "the notice specimen changed shape"
    start = document.index("<w:body>") + len("<w:body>")
    core_slots = core.replace(f"{m['title']} {m['no']}", _SLOT).replace(m["unit"], _SLOT).replace(m["issuer"], _SLOT)
    return (parts, document[:start], document[document.index("<w:sectPr"):], para, tuple(core_slots.split(_SLOT)),
            cell_style)


def _t(text: str) -> str:
    return escape(safe(text))


def notice_docx_bytes(d: NoticeDocument) -> bytes:
    """The notice as a complete .docx file."""
    t = _template()
    p = t.para

    def one(kind: str, text: str) -> str:
        a, b = p[kind]
        return a + _t(text) + b

    i0, i1, i2 = p["issuer"]
    out = [t.head, i0, str(2 * _issuer_size(d.issuer)), i1, _t(d.issuer), i2, one("title", d.title),
           one("no", d.doc_no), one("unit", d.addressee + "："), *(one("body", x) for x in d.before_table),
           table_xml(d.table, t.cell_style, TEXT_WIDTH_TWIPS).replace(_W_DECL, "", 1),
           *(one("body", x) for x in d.after_table), p["blank"][0], one("signer", d.issuer), one("date", d.date_text)]
    if d.copy_to:
        out.append(one("copy", d.copy_to))
    out.append(t.tail)
    c = t.core
    core = "".join((c[0], _t(f"{d.title} {d.doc_no}"), c[1], _t(d.addressee), c[2], _t(d.issuer), c[3]))
    return t.zip.fill({"docProps/core.xml": core.encode(), "word/document.xml": "".join(out).encode()})


_W_DECL = " " + W_DECL


def write_notice_docx(d: NoticeDocument, path: Path) -> Path:
    """Write the notice to `path` atomically (a temporary file in the same folder, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        tmp.write_bytes(notice_docx_bytes(d))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
