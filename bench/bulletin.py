"""Bench: a bulletin period with 50,000 closed items over 5,000 units (SQLite), DOCX + HTML.

    .venv/bin/python bench/bulletin.py [--units 5000] [--closed 50000] [--open 10000] [--pdf]

Prints the time of each stage: query, figures, document model, DOCX, HTML, then a full draft and a
recorded issue (which also writes the 50,000 bulletin_items rows). Target: DOCX + HTML in ≤ 15 s.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import Finding, Round, Unit
from rectify.bulletin import query
from rectify.bulletin.document import build_document
from rectify.bulletin.docx_writer import write_docx
from rectify.bulletin.issue import compile_issue, render_html
from rectify.bulletin.stats import compute
from rectify.config import Settings
from rectify.db import migrate
from rectify.runtime import build_runtime

AS_OF = date(2024, 6, 28)


def seed(rt, units: int, closed: int, still_open: int) -> None:
    rng = random.Random(7)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    with rt.sessions() as s, s.begin():
        s.execute(Unit.__table__.insert(), [
            {"name": f"{'县直单位' if i % 3 else '乡镇'}{i:05d}", "aliases": [],
             "kind": "county" if i % 3 else "township", "sort_order": i % 17, "created_at": now, "updated_at": now}
            for i in range(units)])
        s.add(Round(name="bench", started_on=date(2024, 1, 2)))
        s.flush()
        round_id = s.query(Round.id).scalar()
        unit_ids = [u for (u,) in s.query(Unit.id)]
        rows = []
        for i in range(closed + still_open):
            problem = f"第{i}号问题：行政执法公示不到位，执法案卷不规范，需限期整改<{i}>"
            is_closed = i < closed
            rows.append({
                "code": f"B-{i:06d}", "round_id": round_id, "unit_id": unit_ids[i % units],
                "inspected_on": date(2024, 1, 10), "problem": problem,
                "problem_key": hashlib.sha256(problem.encode()).hexdigest(), "opinion": "限期整改", "owner_name": "",
                "note": "", "deadline_kind": "fixed", "deadline_text": "", "due_date": date(2024, 3, 1),
                "original_due_date": date(2024, 3, 1), "state": "closed" if is_closed else "open",
                "level": 0 if is_closed else rng.choice([0, 3, 5]), "extensions_used": 0,
                "measures": "已建立台账并公开执法信息" if is_closed else "", "progress": "",
                "closed_at": now + timedelta(minutes=i % 30000) if is_closed else None,
                "version": 1, "created_at": now, "updated_at": now,
            })
        for i in range(0, len(rows), 5000):
            s.execute(Finding.__table__.insert(), rows[i:i + 5000])


def timed(label: str, fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"  {label:<34} {time.perf_counter() - t:7.2f} s", flush=True)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--closed", type=int, default=50000)
    ap.add_argument("--open", type=int, default=10000)
    ap.add_argument("--pdf", action="store_true", help="also convert to PDF (LibreOffice)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key=secrets.token_urlsafe(48))
        rt = build_runtime(settings)
        migrate(rt.engine)
        print(f"seeding {args.units} units, {args.closed} closed and {args.open} open findings ...", flush=True)
        timed("seed (not part of the target)", seed, rt, args.units, args.closed, args.open)
        print("stages:")
        with rt.sessions() as s:
            data, t_query = timed("query (load_period)", query.load_period, s, as_of=AS_OF, tz=settings.timezone)
        stats, t_stats = timed("figures (compute)", compute, data.units, data.findings, as_of=AS_OF,
                               ladder=rt.ladder, item_list_limit=settings.bulletin.item_list_limit)
        doc, t_doc = timed("document model", build_document, stats, series=settings.bulletin, issue_no=1,
                           issued_on=AS_OF)
        out = Path(tmp) / "out"
        out.mkdir()
        path, t_docx = timed("DOCX (write_docx)", write_docx, doc, out / "bench.docx")
        html, t_html = timed("HTML (render)", render_html, doc)
        (out / "bench.html").write_text(html, encoding="utf-8")
        print(f"  -> {len(stats.units)} table rows, {stats.new_closed} closures summarised={stats.summarised}; "
              f"DOCX {path.stat().st_size / 1e6:.1f} MB, HTML {len(html.encode()) / 1e6:.1f} MB")
        print(f"DOCX + HTML rendering: {t_docx + t_html:.2f} s; "
              f"with query and figures: {t_query + t_stats + t_doc + t_docx + t_html:.2f} s (target ≤ 15 s)")
        print("end to end:")
        now = datetime(2024, 6, 28, 10, tzinfo=UTC)
        timed("draft (compile_issue, no PDF)", compile_issue, rt, as_of=AS_OF, now=now, draft=True, pdf=False)
        r, _ = timed("issue (+ 50k bulletin_items)", compile_issue, rt, as_of=AS_OF, now=now, pdf=args.pdf)
        if args.pdf:
            print(f"  pdf: {r.files.get('pdf') or r.pdf_skipped}")
        rt.close()


if __name__ == "__main__":
    main()
