"""Compile the next bulletin: read → compute → build the document → write files → record, in that order.

Issuing records the Bulletin row and one BulletinItem per closure in one transaction, after the files
are written under temporary names; the files get their final names only if the transaction can commit.
Two concurrent issues cannot both succeed: the unique issue number and the unique (finding, closed_at)
pair make the later one fail, and it is reported as `BulletinError` with nothing recorded.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from rectify.bulletin import query
from rectify.bulletin.document import BulletinDocument, build_document, file_stem
from rectify.bulletin.docx_writer import write_docx
from rectify.bulletin.errors import BulletinError
from rectify.bulletin.pdf import PdfUnavailable, to_pdf
from rectify.bulletin.progress import progress_article
from rectify.bulletin.sections import Article
from rectify.bulletin.stats import BulletinStats, compute
from rectify.runtime import Runtime
from rectify.services.followup_stats import followup_by_unit, latest_reports_by_group
from rectify.templating import render


@dataclass
class IssueResult:
    issue_no: int
    as_of: date
    period_start: date | None
    draft: bool
    stats: BulletinStats
    files: dict[str, Path] = field(default_factory=dict)
    pdf_skipped: str = ""  # why there is no PDF, when there is none


def next_issue_no(last: query.LastIssue | None, start_issue: int) -> int:
    """The last issued number + 1; the series' starting number when Rectify has issued none yet."""
    return max(last.issue_no + 1, start_issue) if last else start_issue


def render_html(d: BulletinDocument) -> str:
    return render("bulletin/bulletin.html", d=d)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def compile_issue(rt: Runtime, *, as_of: date, now: datetime, issue_no: int | None = None,
                  out_dir: Path | None = None, draft: bool = False, articles: Sequence[Article] = (),
                  pdf: bool = True, progress_section: bool = False, progress_top: int = 5,
                  ranking: bool = False, allow_empty: bool = True) -> IssueResult:
    settings = rt.settings
    series = settings.bulletin
    with rt.sessions() as s:
        last = query.last_issue(s)
        number = issue_no if issue_no is not None else next_issue_no(last, series.start_issue)
        if number < 1:
            raise BulletinError(f"issue number must be 1 or more, not {number}")
        if not draft and query.issue_exists(s, number):
            raise BulletinError(f"工作简报第{number}期 has already been issued; choose another number with --issue "
                                f"or render a draft with --draft")
        if not draft and last and as_of < last.as_of:
            raise BulletinError(f"the last bulletin (第{last.issue_no}期) already covers up to {last.as_of}; "
                                f"--as-of {as_of} is earlier")
        data = query.load_period(s, as_of=as_of, tz=settings.timezone)
        period_start = last.as_of + timedelta(days=1) if last else None
        # 签收及时率 / 进展按时率 per unit, and on request the 整改进展 section (issue 15)
        since = period_start or date(1970, 1, 2)
        followup = followup_by_unit(s, since, as_of, settings.timezone, series.unit_order)
        if progress_section:
            articles = [*articles, progress_article(
                latest_reports_by_group(s, since, as_of, settings.timezone, progress_top))]
    stats = compute(data.units, data.findings, as_of=as_of, ladder=rt.ladder,
                    item_list_limit=series.item_list_limit, unit_order=series.unit_order,
                    period_start=period_start)
    if not draft and not allow_empty and stats.new_closed == 0:
        after = f"since 第{last.issue_no}期 ({last.as_of})" if last else "yet"
        raise BulletinError(f"no findings were closed {after}: 工作简报第{number}期 would be empty; pass "
                            "--allow-empty to issue it anyway, or --draft to look at it")
    doc = build_document(stats, series=series, issue_no=number, issued_on=as_of, articles=articles,
                         followup=followup, ranking=_ranking(rt, as_of, period_start) if ranking else None)

    folder = Path(out_dir) if out_dir else settings.bulletins_path
    folder.mkdir(parents=True, exist_ok=True)
    stem = file_stem(number, draft=draft)
    result = IssueResult(number, as_of, period_start, draft, stats)
    # Written under temporary names; renamed into place once the issue is safely recorded.
    staged: dict[str, tuple[Path, Path]] = {}
    tmp_dir = folder / f".{stem}.{uuid.uuid4().hex}"
    tmp_dir.mkdir()
    try:
        staged["docx"] = (write_docx(doc, tmp_dir / f"{stem}.docx"), folder / f"{stem}.docx")
        html = tmp_dir / f"{stem}.html"
        html.write_text(render_html(doc), encoding="utf-8")
        staged["html"] = (html, folder / f"{stem}.html")
        if pdf:
            try:
                staged["pdf"] = (to_pdf(staged["docx"][0], tmp_dir), folder / f"{stem}.pdf")
            except PdfUnavailable as exc:
                result.pdf_skipped = str(exc)
        files = {kind: final.name for kind, (_, final) in staged.items()}
        if draft:
            _place(staged)
        else:
            _record(rt, result, data.closures, files, now, staged)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)  # whatever was not moved into place
    result.files = {kind: final for kind, (_, final) in staged.items()}
    return result


def _ranking(rt: Runtime, as_of: date, period_start: date | None):
    """考评 over the bulletin's period (from the day after the last issue), else assessment.period_days days."""
    from rectify.services.assessment import assess_runtime, period

    start, end = period(as_of, period_start, rt.settings.assessment.period_days)
    return assess_runtime(rt, start=min(start, end), end=end)


def _place(staged: dict[str, tuple[Path, Path]]) -> None:
    for tmp, final in staged.values():
        os.replace(tmp, final)


def _record(rt: Runtime, result: IssueResult, closures, files: dict[str, str], now: datetime,
            staged: dict[str, tuple[Path, Path]]) -> None:
    placed = False
    try:
        with rt.sessions() as s, s.begin():
            query.record_issue(s, issue_no=result.issue_no, as_of=result.as_of, period_start=result.period_start,
                               issued_at=now, closures=closures, files=files, stats=result.stats.summary())
            _place(staged)  # the row is in and the constraints held; the commit follows
            placed = True
    except BaseException as exc:
        if placed:  # the commit itself failed: take the files back
            for _, final in staged.values():
                final.unlink(missing_ok=True)
        if isinstance(exc, IntegrityError):
            with rt.sessions() as s:
                other = query.last_issue(s)
            who = f"工作简报第{other.issue_no}期 was issued at the same time" if other else \
                "another bulletin was issued at the same time"
            raise BulletinError(
                f"工作简报第{result.issue_no}期 was not recorded: {who} and took its number or its closed items; "
                "nothing is left to issue now (see that issue)") from None
        raise
