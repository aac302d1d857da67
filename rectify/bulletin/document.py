"""One content model for an issue of the bulletin; the DOCX writer and the HTML template both render it.

Every word comes from templates/bulletin/*.txt or the [bulletin] labels, so the two outputs say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from rectify.bulletin.sections import Article
from rectify.bulletin.stats import BulletinStats
from rectify.config import BulletinSettings
from rectify.templating import cn_date, cn_percent, labels, render

if TYPE_CHECKING:
    from rectify.services.assessment import Assessment


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    widths: list[float]  # relative column widths
    total: list[str] | None = None
    numeric_from: int = 1  # columns from here on are figures (centred)


@dataclass
class Part:
    """A numbered part of the summary section (一、总体情况 ...)."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    table: Table | None = None


@dataclass
class BulletinDocument:
    issue_no: int
    masthead: list[str]  # the series title split at spaces; the last line is printed largest
    issue_line: str  # 第 20 期
    issuer: str
    date_text: str  # 2024年1月19日
    news_heading: str
    articles: list[Article]
    summary_heading: str
    parts: list[Part]
    closing: list[tuple[str, str]]  # (报：, text) for the lines that are set
    editors_line: str
    copies_line: str
    stats: BulletinStats


def _text(name: str, **ctx: object) -> str:
    return render(name, **ctx).strip()


def deadline_text(due: date | None, original: date | None = None) -> str:
    """3月29日（原3月15日） when the deadline moved; 长期坚持 without one."""
    return _text("bulletin/deadline.txt", due=due, original=original)


def file_stem(issue_no: int, draft: bool = False) -> str:
    return _text("bulletin/filename.txt", issue_no=issue_no, draft=draft)


def followup_part(rows: Sequence[Any]) -> Part | None:
    """五、签收和进展反馈: 签收及时率 and 进展按时率 per unit (rectify.services.followup_stats.UnitFollowup rows)."""
    if not rows:
        return None
    lab = labels()["bulletin"]

    def pct(part: int, whole: int) -> str:
        return cn_percent(part, whole) if whole else "—"

    return Part(lab["followup"], table=Table(
        header=list(lab["followup_table"]),
        rows=[[u.unit, str(u.ack_due), str(u.ack_on_time), pct(u.ack_on_time, u.ack_due), str(u.reports_on_time),
               str(u.missed), pct(u.reports_on_time, u.reports_on_time + u.missed)] for u in rows],
        widths=[2.9, 1.0, 1.1, 1.3, 1.3, 1.4, 1.3]))


NUMERALS = "一二三四五六七八九十"


def ranking_part(a: Assessment, number: int) -> Part:
    """N、考评排名: the whole ranking over the bulletin's period (`--section ranking`), numbered after the others."""
    from rectify.services.assessment_export import header, period_text, text_rows

    return Part(labels()["bulletin"]["ranking"].format(n=NUMERALS[number - 1]), [period_text(a) + "。"],
                Table(header=header(), rows=text_rows(a.ranking, fractions=False),
                      widths=[0.7, 2.2, 0.8, 1.2, 1.4, 1.2, 1.2, 1.1, 1.1, 0.7], numeric_from=2))


def build_document(stats: BulletinStats, *, series: BulletinSettings, issue_no: int, issued_on: date,
                   articles: Sequence[Article] = (), followup: Sequence[Any] = (),
                   ranking: Assessment | None = None) -> BulletinDocument:
    lab = labels()["bulletin"]
    total = stats.total
    unit_table = Table(
        header=list(lab["unit_table"]),
        rows=[[u.unit, str(u.found), str(u.closed), str(u.open), str(u.overdue_original), str(u.overdue),
               str(u.rebound), cn_percent(u.closed, u.found)] for u in stats.units],
        total=[lab["total"], str(total.found), str(total.closed), str(total.open), str(total.overdue_original),
               str(total.overdue), str(total.rebound), cn_percent(total.closed, total.found)],
        widths=[2.9, 1.1, 1.0, 1.0, 1.4, 1.4, 0.8, 1.5],
    )
    if stats.summarised:
        items_table: Table | None = Table(header=list(lab["item_summary_table"]),
                                          rows=[[c.unit, str(c.count)] for c in stats.items_by_unit],
                                          total=[lab["total"], str(stats.new_closed)], widths=[4.0, 2.0])
    elif stats.items:
        items_table = Table(header=list(lab["item_table"]),
                            rows=[[i.unit, i.problem, i.measures, deadline_text(i.due, i.original_due),
                                   cn_date(i.closed_on)] for i in stats.items],
                            widths=[1.7, 3.1, 3.1, 1.6, 1.3], numeric_from=3)
    else:
        items_table = None
    parts = [
        Part(lab["overall"], [_text("bulletin/lead.txt", s=stats, as_of=stats.as_of)]),
        Part(lab["by_unit"], table=unit_table),
        Part(lab["closed_items"], [_text("bulletin/items_note.txt", s=stats)], items_table),
        Part(lab["notify"], [_text("bulletin/notify.txt", s=stats)]),
    ]
    extra = followup_part(followup)
    if extra is not None:
        parts.append(extra)
    if ranking is not None:
        parts.append(ranking_part(ranking, len(parts) + 1))
    closing = [(lab[key], text) for key, text in (("bao", series.bao), ("song", series.song), ("fa", series.fa))
               if text.strip()]
    return BulletinDocument(
        issue_no=issue_no,
        masthead=series.title.split() or [series.title],
        issue_line=_text("bulletin/issue_no.txt", issue_no=issue_no),
        issuer=series.issuer,
        date_text=cn_date(issued_on, year=True),
        news_heading=lab["news"],
        articles=list(articles),
        summary_heading=lab["summary"],
        parts=parts,
        closing=closing,
        editors_line=lab["editors"] + "、".join(series.editors) if series.editors else "",
        copies_line=_text("bulletin/copies.txt", copies=series.copies) if series.copies else "",
        stats=stats,
    )
