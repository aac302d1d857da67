"""Bench: import 100,000 findings over 5,000 units from a real .xlsx, on SQLite and (--pg) PostgreSQL.
Prints figures, asserts nothing.

    .venv/bin/python bench/import.py [--rows 100000] [--units 5000] [--out bench/out] [--csv] [--pg] [--repeat N]
    .venv/bin/python bench/import.py --rows 1000 --empty-tail   # data, then formatting down to row 1,048,576

The workbook is written the way Excel and WPS write one (shared strings, a <dimension>, date cells
styled as dates), so openpyxl reads it as it reads a clerk's file. Each step runs in a fresh child
process, so the peak RSS printed is that step's alone: generate → units import → findings import →
re-import of the same file (nothing changes) → `rectify findings import` as a process (a first import, into a
copy of the database as the units step left it) → ledger export, and beside them the floor: python-calamine
alone reading the same workbook into Python lists. Target: findings import (read + validate + write)
≤ 3 s and ≤ 500 MiB peak RSS for 100,000 rows on a 2-core machine; the ratio to the floor is printed.
With --pg the same steps run again against a throwaway PostgreSQL server (tests/support/pgserver.py).

--repeat N then runs calamine alone, the findings import and the CLI's first import N more times each (SQLite,
a fresh copy of the units-only database each time) and prints the median wall and CPU time of each: on a shared
machine one run says little.

--empty-tail writes the sheet as Excel saves one whose columns were bordered to the end: after the data,
every row down to 1,048,576 holds ten styled, value-less cells (<dimension> A1:J1048576); only the findings
import of that file is timed (and calamine alone on it).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.installed import compiled  # noqa: E402  (ROOT on the path first)

HEAD = ["序号", "编号", "督导组", "督导日期", "责任单位", "问题描述", "整改意见", "整改时限", "责任人", "备注"]
DEADLINES = ["5个工作日内", "10日内", "立行立改", "长期坚持", "3月底前", "2024年4月30日", "2024/5/31", None]
PROBLEMS = ["未按要求公开行政执法信息，公示栏内容更新不及时", "食堂“三防”设施缺失，台账记录不全",
            "专项资金拨付滞后，<b>部分项目</b>未按期开工", "安全生产隐患排查流于形式，整改闭环不到位",
            "信访事项办理超期，群众满意度不高"]


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


_EPOCH = date(1899, 12, 30)


def write_xlsx(path: Path, rows: list[list[object]], formatted_to: int = 0) -> None:
    """A minimal workbook as Excel writes it: shared strings, dimension, a date style; `formatted_to`: every
    row after the data down to that one holds styled, empty cells (borders on whole columns)."""
    strings: dict[str, int] = {}
    ncols = max(len(r) for r in rows)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                      '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                      f'<dimension ref="A1:{_col(ncols)}{max(len(rows), formatted_to)}"/><sheetData>').encode())
            buf = []
            for r, row in enumerate(rows, start=1):
                cells = []
                for c, v in enumerate(row, start=1):
                    ref = f"{_col(c)}{r}"
                    if v is None or v == "":
                        continue
                    if isinstance(v, str):
                        i = strings.setdefault(v, len(strings))
                        cells.append(f'<c r="{ref}" t="s"><v>{i}</v></c>')
                    elif isinstance(v, date):
                        cells.append(f'<c r="{ref}" s="1"><v>{(v - _EPOCH).days}</v></c>')
                    else:
                        cells.append(f'<c r="{ref}"><v>{v}</v></c>')
                buf.append(f'<row r="{r}">{"".join(cells)}</row>')
                if len(buf) >= 2000:
                    fh.write("".join(buf).encode())
                    buf.clear()
            for r in range(len(rows) + 1, formatted_to + 1):
                buf.append(f'<row r="{r}" spans="1:{ncols}" s="1" customFormat="1">'
                           + "".join(f'<c r="{_col(c)}{r}" s="1"/>' for c in range(1, ncols + 1)) + "</row>")
                if len(buf) >= 20000:
                    fh.write("".join(buf).encode())
                    buf.clear()
            fh.write(("".join(buf) + "</sheetData></worksheet>").encode())
        sst = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
        z.writestr("xl/sharedStrings.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                   '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   f'count="{len(strings)}" uniqueCount="{len(strings)}">{sst}</sst>')
        z.writestr("xl/styles.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
            '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
            '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            '</styleSheet>'))
        z.writestr("xl/workbook.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="问题清单" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
        z.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            f'<Relationship Id="rId3" Type="{rel}/styles" Target="styles.xml"/></Relationships>'))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/></Types>'))


def generate(out: Path, n_rows: int, n_units: int, formatted_to: int = 0) -> tuple[Path, Path, Path]:
    rnd = random.Random(7)
    units = [f"鲁山县测试单位{i:04d}" for i in range(1, n_units + 1)]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["单位名称", "简称/别名", "类型", "联系人", "联系人邮箱", "主要负责人", "负责人邮箱"])
    for i, name in enumerate(units, start=1):
        w.writerow([name, f"单位{i:04d}、测试{i:04d}", "乡镇街道" if i % 5 == 0 else "县直单位", f"联系人{i}",
                    f"contact{i}@unit.example", f"负责人{i}", f"leader{i}@unit.example"])
    units_csv = out / "units.csv"
    units_csv.write_bytes(buf.getvalue().encode("gbk"))

    rows: list[list[object]] = [HEAD]
    start = date(2024, 3, 4)
    for i in range(1, n_rows + 1):
        u = rnd.randrange(n_units)
        unit = rnd.choice([units[u], units[u].removeprefix("鲁山县"), f"单位{u + 1:04d}"])
        inspected = start + timedelta(days=rnd.randrange(0, 20))
        deadline = DEADLINES[i % len(DEADLINES)] or inspected + timedelta(days=30)
        code = f"B-{i:06d}" if i % 5 else ""
        rows.append([i, code, f"第{i % 10 + 1}督导组", inspected, unit,
                     f"{PROBLEMS[i % len(PROBLEMS)]}（第{i}项）", "立即整改，建立长效机制，举一反三", deadline,
                     "张三" if i % 3 == 0 else "", ""])
    xlsx = out / ("findings-tail.xlsx" if formatted_to else "findings.xlsx")
    write_xlsx(xlsx, rows, formatted_to)
    csv_path = out / "findings.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    for row in rows:
        w.writerow([v.isoformat() if isinstance(v, date) else v for v in row])
    csv_path.write_bytes(buf.getvalue().encode("gb18030"))
    return units_csv, xlsx, csv_path


def child(step: str, out: Path, source: str, database_url: str) -> None:
    """One step in this (fresh) process; prints its figures."""
    from rectify.config import Settings
    from rectify.db import migrate
    from rectify.intake.service import run_findings_import, run_ledger_export, run_units_import
    from rectify.runtime import build_runtime

    settings = Settings(data_dir=out / "var", database_url=database_url, county_prefix="鲁山县",
                        secret_key=secrets.token_urlsafe(48))
    if step == "calamine":  # the floor: the reader alone, no validation, no database
        from python_calamine import CalamineWorkbook

        t0, cpu0 = time.perf_counter(), time.process_time()
        n = len(CalamineWorkbook.from_path(source).get_sheet_by_index(0).to_python()) - 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0  # the reading alone, like the import's
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"{step:9s} {n:>7,} rows  wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
              f"peak RSS {usage.ru_maxrss / 1024:4.0f} MiB  (python-calamine alone)", flush=True)
        print(f"WALL {step} {wall} {cpu}", flush=True)
        return
    if step == "cli":  # `rectify findings import` as a clerk runs it: a first import, into a copy of the
        # database as the units step left it (not the one the findings steps filled)
        db = out / "bench-cli.db"
        shutil.copy(out / "bench-units.db", db)
        # PYTHONPATH: the CLI runs the code of the tree this file is in
        env = {**os.environ, "RECTIFY_DATABASE_URL": f"sqlite:///{db}", "RECTIFY_DATA_DIR": str(out / "var"),
               "RECTIFY_COUNTY_PREFIX": "鲁山县", "RECTIFY_SECRET_KEY": secrets.token_urlsafe(48),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        rectify = str(Path(sys.executable).parent / "rectify")
        t0 = time.perf_counter()
        res = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M", rectify, "findings", "import", source,
                              "--round", "2024年第一轮"], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        fig = next((ln.split() for ln in res.stderr.splitlines() if ln.startswith("TIME ")), None)
        if res.returncode or fig is None:
            print(f"cli failed ({res.returncode}): {res.stderr.strip()[-500:]}")
            return
        for f in out.glob("bench-cli.db*"):
            f.unlink()
        cpu = float(fig[2]) + float(fig[3])
        print(f"{step:9s} `rectify findings import` wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
              f"peak RSS {int(fig[4]) / 1024:4.0f} MiB  (process start, imports and all)", flush=True)
        print(f"WALL {step} {wall} {cpu}", flush=True)
        return
    rt = build_runtime(settings)
    if step == "units":
        migrate(rt.engine)
    t0 = time.perf_counter()
    start = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = start.ru_utime + start.ru_stime
    if step == "units":
        r = run_units_import(rt, Path(source))
        n, what = r.rows, f"created {r.created}, people {dict(r.people)}"
    elif step in ("findings", "reimport"):
        r = run_findings_import(rt, Path(source), round_name="2024年第一轮")
        n, what = r.rows, f"created {r.created}, updated {r.updated}, unchanged {r.unchanged}"
    else:
        r = run_ledger_export(rt, Path(source), as_of=date(2024, 6, 30))
        n, what = r.rows, f"units {len(r.units)}"
    wall = time.perf_counter() - t0
    rt.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime - cpu0  # on a busy machine wall > CPU: others share the cores
    print(f"{step:9s} {n:>7,} rows  wall {wall:6.2f} s  cpu {cpu:6.2f} s  {n / wall:>8,.0f} rows/s  "
          f"peak RSS {rss:4.0f} MiB  ({what})", flush=True)
    print(f"WALL {step} {wall} {cpu}", flush=True)


def run_step(out: Path, step: str, src: Path, database_url: str, quiet: bool = False) -> tuple[float, float] | None:
    """One step in a fresh child process against database_url: its lines printed, (wall, CPU) returned."""
    res = subprocess.run([sys.executable, __file__, "--out", str(out), "--database-url", database_url,
                          "--child", step, str(src)], check=True, capture_output=True, text=True)
    if step == "units" and database_url.startswith("sqlite"):  # the state the CLI step imports into
        _copy_db(out, "bench.db", "bench-units.db")
    got = None
    for line in res.stdout.splitlines():
        if line.startswith("WALL "):
            got = (float(line.split()[2]), float(line.split()[3]))
        elif not quiet:
            print(line, flush=True)
    return got


def _copy_db(out: Path, source: str, dest: str) -> None:
    for f in out.glob(f"{dest}*"):
        f.unlink()
    for f in out.glob(f"{source}*"):
        shutil.copy(f, out / f.name.replace(source, dest))


def repeat_steps(out: Path, source: Path, times: int) -> None:
    """calamine alone, findings import (into a fresh copy of the units-only database) and the CLI's first import,
    `times` rounds one after another; the median of each, so one noisy moment does not decide."""
    figures: dict[str, list[tuple[float, float]]] = {"calamine": [], "findings": [], "cli": []}
    url = f"sqlite:///{out / 'bench.db'}"
    for _ in range(times):
        for step in figures:
            if step == "findings":
                _copy_db(out, "bench-units.db", "bench.db")
            got = run_step(out, step, source, url, quiet=True)
            if got is not None:
                figures[step].append(got)
    print(f"-- SQLite, {times} rounds (median wall / median CPU, load average {os.getloadavg()[0]:.1f})", flush=True)
    for step, got in figures.items():
        if got:
            walls, cpus = sorted(w for w, _ in got), sorted(c for _, c in got)
            print(f"{step:9s} wall {walls[len(walls) // 2]:6.2f} s  cpu {cpus[len(cpus) // 2]:6.2f} s  "
                  f"(wall {min(walls):.2f}–{max(walls):.2f}, cpu {min(cpus):.2f}–{max(cpus):.2f})", flush=True)


def run_steps(out: Path, steps: list[tuple[str, Path]], database_url: str, label: str) -> dict[str, float]:
    """Each step in a fresh child process against database_url; the child's lines printed, walls returned."""
    print(f"-- {label}", flush=True)
    walls: dict[str, float] = {}
    for step, src in steps:
        got = run_step(out, step, src, database_url)
        if got is not None:
            walls[step] = got[0]
    if "calamine" in walls and "findings" in walls:
        cli = f", `rectify findings import` / calamine alone: {walls['cli'] / walls['calamine']:.1f}x" \
            if "cli" in walls else ""
        print(f"findings import / calamine alone: {walls['findings'] / walls['calamine']:.1f}x{cli} "
              f"(same file, same run; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)
    return walls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--units", type=int, default=5_000)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    p.add_argument("--csv", action="store_true", help="import the GB18030 CSV instead of the workbook")
    p.add_argument("--pg", action="store_true", help="run the steps on PostgreSQL too (a throwaway server)")
    p.add_argument("--empty-tail", action="store_true",
                   help="format every row after the data down to 1,048,576 and time the import of that file")
    p.add_argument("--no-ledger", action="store_true", help="skip the ledger export step")
    p.add_argument("--repeat", type=int, default=0, metavar="N",
                   help="then N more rounds of calamine alone, findings import and the CLI (SQLite): medians")
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--child", nargs=2, metavar=("STEP", "SOURCE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    out = args.out.resolve()
    if args.child:
        child(args.child[0], out, args.child[1], args.database_url)
        return
    print(compiled(), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    for f in out.glob("bench.db*"):
        f.unlink()
    t0 = time.perf_counter()
    units_csv, xlsx, csv_path = generate(out, args.rows, args.units, 1_048_576 if args.empty_tail else 0)
    source = csv_path if args.csv else xlsx
    print(f"generated {args.rows:,} findings over {args.units:,} units in {time.perf_counter() - t0:.1f} s: "
          f"{source} ({source.stat().st_size / 2**20:.1f} MiB)", flush=True)
    steps = [("units", units_csv), ("findings", source)]
    if not args.empty_tail:
        steps.append(("reimport", source))
        if not args.no_ledger:
            steps.append(("ledger", out / "ledger.xlsx"))
    if not args.csv:
        steps.insert(1, ("calamine", source))
    run_steps(out, [*steps[:-1], ("cli", source), steps[-1]] if not args.empty_tail and not args.no_ledger
              else [*steps, ("cli", source)], f"sqlite:///{out / 'bench.db'}", "SQLite")
    if args.repeat and not args.csv:
        repeat_steps(out, source, args.repeat)
    if args.pg:
        sys.path.insert(0, str(ROOT))
        from tests.support.pgserver import PgServer

        pg = PgServer().start()
        try:
            run_steps(out, steps, pg.create_database("bench_import"), "PostgreSQL")
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
