"""Rectify's own record of the last daily run: a small JSON file in the data folder, no schema change.

The 驾驶舱 shows it whether the run came from the Prefect flow, `rectify daily` or the demo, and without a
Prefect server to ask. Written atomically (temporary file, then rename) so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

FILE = "last_daily_run.json"
KEPT = ("day", "working_day", "scanned", "escalations", "reviews", "handovers", "rechecks", "signoffs",
        "deferred", "held", "messages", "recipients", "items", "unreachable_total", "sent", "delivered", "attempts")


def path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE


def record(data_dir: Path, report: dict[str, Any], finished_at: datetime) -> None:
    """Keep the run's counts (not its letters or addresses) and when it finished."""
    data = {k: report[k] for k in KEPT if k in report}
    data |= {"notices": len(report.get("notices", [])), "pending": len(report.get("pending", [])),
             "failed": len(report.get("failed", [])), "finished_at": finished_at.isoformat()}
    target = path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target)


def last(data_dir: Path) -> dict[str, Any] | None:
    """The last run's record, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads(path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
