"""WordprocessingML written as text, without python-docx: what a filled notice needs at send time.

The 督办通知 (rectify.bulletin.notice_docx) is filled from a stored specimen by string joins; only the
specimen needs python-docx. Keeping the table writer and the text cleaning here lets a daily run issue its
notices without importing python-docx and lxml at all (~0.1 s of every run's start-up, issue 14).
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from rectify.bulletin.document import Table

W_DECL = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
# A4 (210 mm) less the 公文 margins (28 mm left, 26 mm right), in twips (1 mm = 36,000 EMU; 635 EMU a twip).
TEXT_WIDTH_TWIPS = int((210 - 28 - 26) * 36_000 / 635)

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def safe(text: str) -> str:
    """Text as XML can hold it: control characters pasted from spreadsheets are dropped."""
    return _NOT_XML.sub("", text)


def _cell_xml(text: str, width: int, style_id: str, *, align: str, bold: bool) -> str:
    parts = [escape(safe(line)) for line in (text or "").split("\n")]
    runs = '</w:t></w:r><w:r><w:br/><w:t xml:space="preserve">'.join(parts)
    b = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return (f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr>'
            f'<w:p><w:pPr><w:pStyle w:val="{style_id}"/><w:jc w:val="{align}"/></w:pPr>'
            f'<w:r>{b}<w:t xml:space="preserve">{runs}</w:t></w:r></w:p></w:tc>')


def table_xml(t: Table, style_id: str, width_twips: int) -> str:
    """The whole table as WordprocessingML; long text columns are left-aligned, figures centred."""
    scale = width_twips / sum(t.widths)
    widths = [int(w * scale) for w in t.widths]
    border = 'w:val="single" w:sz="4" w:space="0" w:color="000000"'
    out = [
        f"<w:tbl {W_DECL}><w:tblPr><w:tblW w:w=\"{sum(widths)}\" w:type=\"dxa\"/><w:jc w:val=\"center\"/>",
        "<w:tblBorders>" + "".join(f"<w:{s} {border}/>" for s in
                                   ("top", "left", "bottom", "right", "insideH", "insideV")) + "</w:tblBorders>",
        '<w:tblLayout w:type="fixed"/><w:tblCellMar><w:left w:w="57" w:type="dxa"/>'
        '<w:right w:w="57" w:type="dxa"/></w:tblCellMar></w:tblPr><w:tblGrid>',
        "".join(f'<w:gridCol w:w="{w}"/>' for w in widths), "</w:tblGrid>",
    ]

    def row(cells: list[str], *, header: bool = False, bold: bool = False) -> None:
        tr_pr = "<w:trPr><w:cantSplit/>" + ("<w:tblHeader/>" if header else "") + "</w:trPr>"
        tcs = []
        for i, (text, w) in enumerate(zip(cells, widths, strict=True)):
            long_text = not header and 0 < i < t.numeric_from
            align = "left" if long_text else "center"
            tcs.append(_cell_xml(text, w, style_id, align=align, bold=bold or header))
        out.append(f"<w:tr>{tr_pr}{''.join(tcs)}</w:tr>")

    row(t.header, header=True)
    for cells in t.rows:
        row(cells)
    if t.total:
        row(t.total, bold=True)
    out.append("</w:tbl>")
    return "".join(out)
