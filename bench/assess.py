"""Bench: 考评 and the 驾驶舱 over a county-sized database (SQLite): 60,000 findings over 5,000 units by default.

    .venv/bin/python bench/assess.py [--units 5000] [--closed 50000] [--open 10000]

Prints the time of `assess` (the ranking: four queries + the pure figures and scores) and of the 驾驶舱's data
(cockpit.build: counts by unit, group, colours, 12-week trend, ranking) against a bare reference in the same
run: one plain SELECT of the columns the assessment reads, with no Python work on the rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.bulletin import seed
from models import Finding, Person
from rectify.config import Settings
from rectify.db import migrate
from rectify.runtime import build_runtime
from rectify.services.access import Viewer
from rectify.services.assessment import assess_runtime

END = date(2024, 6, 28)


def best_of(n: int, fn, *args, **kwargs) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--closed", type=int, default=50000)
    ap.add_argument("--open", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rectify-bench-") as tmp:
        rt = build_runtime(Settings(data_dir=Path(tmp), secret_key="bench-" + "x" * 40))
        migrate(rt.engine)
        seed(rt, args.units, args.closed, args.open)
        with rt.sessions() as s, s.begin():
            s.add(Person(name="指挥部办公室", email="admin@bench.example", role="admin"))

        def reference() -> None:
            with rt.sessions() as s:
                s.execute(select(Finding.id, Finding.unit_id, Finding.state, Finding.inspected_on, Finding.due_date,
                                 Finding.original_due_date, Finding.reported_at, Finding.closed_at)).all()

        def cockpit() -> None:
            from web import cockpit as page

            with rt.sessions() as s:
                page.build(s, rt, Viewer(1, "admin"), END)

        ref = best_of(3, reference)
        ranking = best_of(3, assess_runtime, rt, start=date(2024, 2, 1), end=END)
        whole = best_of(3, cockpit)
        n = args.closed + args.open
        print(f"{n} findings, {args.units} units (SQLite), best of 3:")
        print(f"  reference (plain SELECT)   {ref:6.2f} s")
        print(f"  assess (ranking)           {ranking:6.2f} s   ×{ranking / ref:.1f} the reference")
        print(f"  驾驶舱 data (cockpit.build) {whole:6.2f} s   ×{whole / ref:.1f} the reference")
        rt.close()


if __name__ == "__main__":
    main()
