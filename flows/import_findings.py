"""Flow `import_findings`: findings from a spreadsheet a deployment receives (a path on its host).

Thin: one task calls `rectify.intake.run_findings_import` (all or nothing, idempotent, so a retry after a
database hiccup is safe); a markdown artifact carries the summary, or the row-by-row report of a
rejected file. An `IntakeError` (bad rows, unreadable file) fails the run at once: retrying cannot fix it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.retry import retry_unless
from rectify.intake.errors import ImportRejected, IntakeError
from rectify.runtime import build_runtime
from rectify.templating import render

retry_unless_user_error = retry_unless(IntakeError)


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=retry_unless_user_error, cache_policy=NO_CACHE)
def import_file(path: str, round_name: str | None, inspected_on: date | None, group_name: str | None,
                sheet: str | None, dry_run: bool) -> dict[str, Any]:
    from rectify.intake.service import run_findings_import

    rt = build_runtime()
    try:
        report = run_findings_import(rt, path, sheet=sheet, round_name=round_name, inspected_on=inspected_on,
                                     group_name=group_name, dry_run=dry_run)
    finally:
        rt.close()
    return report.as_dict()


@flow(name="import_findings")
def import_findings(path: str, round_name: str | None = None, inspected_on: date | None = None,
                    group_name: str | None = None, sheet: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Import the findings in `path` (.xlsx or .csv); the summary is returned and kept as an artifact."""
    log = get_run_logger()
    try:
        summary = import_file(path, round_name, inspected_on, group_name, sheet, dry_run)
    except ImportRejected as exc:
        create_markdown_artifact(render("intake/artifact.md", rejected=str(exc), summary=None),
                                 key="import-findings", description=exc.source)
        raise
    create_markdown_artifact(render("intake/artifact.md", rejected=None, summary=summary),
                             key="import-findings", description=summary["source"])
    log.info("imported %s: %d created, %d updated, %d unchanged", summary["source"], summary["created"],
             summary["updated"], summary["unchanged"])
    return summary
