"""The bulletin as DOCX (python-docx), laid out like a printed 简报 for the office to edit and print.

公文 conventions: A4, margins 37/35/28/26 mm, red masthead in 方正小标宋简体 over a red rule, body in
仿宋_GB2312 at 三号 (16 pt), part headings in 黑体. python-docx's `font.name` only sets the ASCII
fonts, so every style also gets `w:eastAsia`; the font table names a fallback (w:altName) for each
Chinese font for machines that lack it. Big tables are written as one XML string and parsed once:
python-docx's per-cell API would take minutes for a 5,000-unit table.
"""

from __future__ import annotations

import re
from functools import cache
from io import BytesIO
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor
from lxml import etree

from rectify.bulletin.document import BulletinDocument, Table
from rectify.bulletin.wordml import TEXT_WIDTH_TWIPS, safe, table_xml

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
ASCII_FONT = "Times New Roman"
# Chinese font → what Word/LibreOffice should use where it is not installed.
FALLBACKS = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", "仿宋": "FangSong", HEADING_FONT: "SimHei", "宋体": "SimSun"}
RED = "FF0000"

PAGE_W, PAGE_H = Mm(210), Mm(297)
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = Mm(37), Mm(35), Mm(28), Mm(26)
TEXT_WIDTH = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT

def _fonts(rpr, ascii_font: str, east_asia: str) -> None:
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = etree.SubElement(rpr, qn("w:rFonts"))
        rpr.insert(0, rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(attr), ascii_font)
    rfonts.set(qn("w:eastAsia"), east_asia)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)


def _paragraph_style(doc, name: str, east_asia: str, size: float, *, base: str = "Normal",
                     align=None, color: str | None = None, indent_chars: float = 0, line_pt: float | None = 28,
                     before: float = 0, after: float = 0, bold: bool = False):
    style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = doc.styles[base]
    style.quick_style = True
    font = style.font
    font.name = ASCII_FONT
    font.size = Pt(size)
    font.bold = bold
    if color:
        font.color.rgb = RGBColor.from_string(color)
    _fonts(style.element.get_or_add_rPr(), ASCII_FONT, east_asia)
    pf = style.paragraph_format
    if align is not None:
        pf.alignment = align
    pf.first_line_indent = Pt(size * indent_chars) if indent_chars else Pt(0)
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    if line_pt:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(line_pt)
    else:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    return style


def _setup(doc) -> dict:
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = PAGE_W, PAGE_H
    sec.top_margin, sec.bottom_margin = MARGIN_TOP, MARGIN_BOTTOM
    sec.left_margin, sec.right_margin = MARGIN_LEFT, MARGIN_RIGHT
    sec.footer_distance = Mm(25)

    # Defaults: Chinese language (so CJK fonts and punctuation rules apply), body font everywhere.
    rpr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr_default.find(qn("w:lang"))
    if lang is None:
        lang = etree.SubElement(rpr_default, qn("w:lang"))
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    _fonts(rpr_default, ASCII_FONT, BODY_FONT)

    normal = doc.styles["Normal"]
    normal.font.name = ASCII_FONT
    normal.font.size = Pt(16)
    _fonts(normal.element.get_or_add_rPr(), ASCII_FONT, BODY_FONT)
    npf = normal.paragraph_format
    npf.space_before = npf.space_after = Pt(0)
    npf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    npf.line_spacing = Pt(28)
    npf.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    C, L, R = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.RIGHT
    styles = {
        "masthead": _paragraph_style(doc, "Bulletin Masthead", TITLE_FONT, 22, align=C, color=RED, line_pt=None),
        "issue": _paragraph_style(doc, "Bulletin Issue", BODY_FONT, 16, align=C, before=6, after=12),
        "issuer": _paragraph_style(doc, "Bulletin Issuer", BODY_FONT, 14, align=L, after=18),
        "section": _paragraph_style(doc, "Bulletin Section", HEADING_FONT, 16, align=L, before=12, after=6),
        "toc": _paragraph_style(doc, "Bulletin Contents", BODY_FONT, 16, align=L, indent_chars=2),
        "article": _paragraph_style(doc, "Bulletin Article Title", TITLE_FONT, 18, align=C, line_pt=34,
                                    before=18, after=12),
        "body": _paragraph_style(doc, "Bulletin Body", BODY_FONT, 16, indent_chars=2),
        "subheading": _paragraph_style(doc, "Bulletin Subheading", HEADING_FONT, 16, indent_chars=2),
        "part": _paragraph_style(doc, "Bulletin Part", HEADING_FONT, 16, indent_chars=2, before=6),
        "cell": _paragraph_style(doc, "Bulletin Table", BODY_FONT, 11, align=C, line_pt=None),
        "closing": _paragraph_style(doc, "Bulletin Closing", BODY_FONT, 14, align=L, line_pt=26),
        "copies": _paragraph_style(doc, "Bulletin Copies", BODY_FONT, 14, align=R, line_pt=26),
        "footer": _paragraph_style(doc, "Bulletin Footer", ASCII_FONT, 14, align=C, line_pt=None),
    }
    for key in ("section", "article", "part", "subheading"):  # a heading never ends a page
        styles[key].paragraph_format.keep_with_next = True
    toc = styles["toc"].paragraph_format  # wrapped titles line up after the ◆
    toc.left_indent, toc.first_line_indent = Pt(16 * 3), Pt(-16)
    _font_table(doc)
    return styles


@cache
def _base() -> tuple[bytes, dict[str, str]]:
    """A blank document with the page, fonts and styles set up once; each document starts from a copy.

    Setting up styles costs more than the rest of a small document (a 督办通知), so it is done once.
    """
    doc = Document()
    styles = _setup(doc)
    buf = BytesIO()
    doc.save(buf)
    return buf.getvalue(), {key: style.name for key, style in styles.items()}


def new_document():  # -> (docx Document, {key: paragraph style})
    data, names = _base()
    doc = Document(BytesIO(data))
    return doc, {key: doc.styles[name] for key, name in names.items()}


def _font_table(doc) -> None:
    part = next(p for p in doc.part.package.parts if str(p.partname) == "/word/fontTable.xml")
    root = etree.fromstring(part.blob)
    for name, alt in FALLBACKS.items():
        font = etree.SubElement(root, qn("w:font"))
        font.set(qn("w:name"), name)
        etree.SubElement(font, qn("w:altName")).set(qn("w:val"), alt)
        etree.SubElement(font, qn("w:charset")).set(qn("w:val"), "86")  # GB2312
        etree.SubElement(font, qn("w:family")).set(qn("w:val"), "modern" if name == HEADING_FONT else "roman")
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _border(p, side: str, color: str, size: int, space: int = 1) -> None:
    ppr = p._p.get_or_add_pPr()
    bdr = ppr.find(qn("w:pBdr"))
    if bdr is None:
        bdr = parse_xml(f"<w:pBdr {nsdecls('w')}/>")
        # pBdr must come before spacing/ind/jc in pPr.
        anchor = next((c for c in ppr if c.tag in {qn("w:spacing"), qn("w:ind"), qn("w:jc"), qn("w:tabs"),
                                                    qn("w:rPr")}), None)
        if anchor is not None:
            anchor.addprevious(bdr)
        else:
            ppr.append(bdr)
    bdr.append(parse_xml(f'<w:{side} {nsdecls("w")} w:val="single" w:sz="{size}" w:space="{space}" '
                         f'w:color="{color}"/>'))


def _para(doc, text: str, style: str):
    return doc.add_paragraph(safe(text), style=style)


def _add_table(doc, t: Table, style_id: str) -> None:
    tbl = parse_xml(table_xml(t, style_id, TEXT_WIDTH_TWIPS))
    body = doc.element.body
    body.sectPr.addprevious(tbl) if body.sectPr is not None else body.append(tbl)


def _footer(doc, style) -> None:
    """Page numbers as 公文 prints them: — 1 —."""
    p = doc.sections[0].footer.paragraphs[0]
    p.style = style
    p.add_run("— ")
    p._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:t xml:space="preserve"> —</w:t></w:r>'))


def write_docx(d: BulletinDocument, path: Path) -> Path:
    doc, objs = new_document()
    cp = doc.core_properties
    cp.title, cp.author, cp.subject = safe(" ".join(d.masthead) + " " + d.issue_line), safe(d.issuer), ""

    # Masthead: the series name above, the bulletin's name large, both red.
    for i, line in enumerate(d.masthead):
        p = doc.add_paragraph(style=objs["masthead"])
        run = p.add_run(safe(line))
        last = i == len(d.masthead) - 1
        run.font.size = Pt(42 if last else 22)
        if last:
            p.paragraph_format.space_before = Pt(6)
    _para(doc, d.issue_line, objs["issue"])
    p = doc.add_paragraph(style=objs["issuer"])
    p.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT)
    p.add_run(safe(d.issuer) + "\t" + safe(d.date_text))
    _border(p, "bottom", RED, 18, 4)

    if d.articles:
        _para(doc, d.news_heading, objs["section"])
        for a in d.articles:
            _para(doc, "◆ " + a.title, objs["toc"])
        for a in d.articles:
            _para(doc, a.title, objs["article"])
            for block in a.blocks:
                if block.kind == "heading":
                    _para(doc, block.text, objs["subheading"])
                elif block.kind == "item":
                    _para(doc, "● " + block.text, objs["body"])
                else:
                    _para(doc, block.text, objs["body"])

    _para(doc, d.summary_heading, objs["section"])
    for part in d.parts:
        _para(doc, part.heading, objs["part"])
        for text in part.paragraphs:
            _para(doc, text, objs["body"])
        if part.table is not None:
            _add_table(doc, part.table, objs["cell"].style_id)
            doc.add_paragraph(style=objs["body"])

    # 版记: 报/送/发 between black rules, then 编校 and the print run.
    lines = [(label + text) for label, text in d.closing]
    block = [_para(doc, line, objs["closing"]) for line in lines]
    if d.editors_line:
        block.append(_para(doc, d.editors_line, objs["closing"]))
    if d.copies_line:
        block.append(_para(doc, d.copies_line, objs["copies"]))
    if block:
        block[0].paragraph_format.space_before = Pt(24)
        _border(block[0], "top", "000000", 8, 4)
        _border(block[-1], "bottom", "000000", 8, 4)
    _footer(doc, objs["footer"])
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def slim_styles(styles_xml: bytes, used_in: list[str]) -> bytes:
    """styles.xml with only the styles the given parts use (and those they are based on or link to).

    python-docx's template carries ~160 styles and the latent-style table (350 KB); a notice uses a dozen.
    """
    root = etree.fromstring(styles_xml)
    styles = {s.get(qn("w:styleId")): s for s in root.findall(qn("w:style"))}
    wanted = {s for s, el in styles.items() if el.get(qn("w:default")) in ("1", "true")}
    for xml in used_in:
        wanted |= set(re.findall(r'<w:(?:pStyle|rStyle|tblStyle) w:val="([^"]+)"', xml))
    todo = list(wanted)
    while todo:
        el = styles.get(todo.pop())
        if el is None:
            continue
        for tag in ("w:basedOn", "w:link", "w:next"):
            ref = el.find(qn(tag))
            if ref is not None and ref.get(qn("w:val")) not in wanted:
                wanted.add(ref.get(qn("w:val")))
                todo.append(ref.get(qn("w:val")))
    for sid, el in styles.items():
        if sid not in wanted:
            root.remove(el)
    latent = root.find(qn("w:latentStyles"))
    if latent is not None:
        root.remove(latent)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
