"""Flow `compile_bulletin`: the next 工作简报 from what was closed since the last one.

Thin: one task reads, computes, renders and records (`rectify.bulletin.issue.compile_issue`), and a
markdown artifact summarises the issue. A `BulletinError` (number taken, concurrent issue, bad article
file) fails the run at once; other errors (a database hiccup) are retried.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.retry import retry_unless
from rectify.bulletin.errors import BulletinError
from rectify.runtime import Runtime, build_runtime
from rectify.templating import render

retry_unless_user_error = retry_unless(BulletinError)


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=retry_unless_user_error, cache_policy=NO_CACHE)
def issue(rt: Runtime, as_of: date, issue_no: int | None, out_dir: str | None, draft: bool,
          sections: list[str]):
    from rectify.bulletin.issue import compile_issue
    from rectify.bulletin.sections import load_articles

    return compile_issue(rt, as_of=as_of, now=rt.now(), issue_no=issue_no, draft=draft,
                         out_dir=Path(out_dir) if out_dir else None,
                         articles=load_articles(Path(p) for p in sections))


@flow(name="compile-bulletin")
def compile_bulletin(as_of: date | None = None, issue_no: int | None = None, *, draft: bool = False,
                     out_dir: str | None = None, sections: list[str] | None = None) -> dict[str, Any]:
    """Issue (or with draft=True only render) the next bulletin covering closures up to the end of `as_of`."""
    log = get_run_logger()
    rt = build_runtime()
    try:
        r = issue(rt, as_of or rt.today(), issue_no, out_dir, draft, list(sections or []))
    finally:
        rt.close()
    lead = render("bulletin/lead.txt", s=r.stats, as_of=r.as_of).strip()
    create_markdown_artifact(render("bulletin/artifact.md", r=r, lead=lead),
                             key="bulletin-draft" if r.draft else "bulletin",
                             description=f"工作简报第{r.issue_no}期")
    log.info("bulletin %s %s: %d new closures, files %s", r.issue_no, "drafted" if r.draft else "issued",
             r.stats.new_closed, ", ".join(str(p) for p in r.files.values()))
    if r.pdf_skipped:
        log.warning("no PDF: %s", r.pdf_skipped)
    return {"issue_no": r.issue_no, "draft": r.draft, "as_of": r.as_of.isoformat(),
            "files": {k: str(v) for k, v in r.files.items()}, "stats": r.stats.summary(),
            "pdf_skipped": r.pdf_skipped}
