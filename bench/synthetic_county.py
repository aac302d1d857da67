"""The bench's synthetic county: N findings over N/20 units (a contact and a leader each), one supervision group
of three per twelve units, three command-office addresses, built with bulk inserts (SQLite or PostgreSQL).
Shared by bench/daily_run.py, bench/channels.py and bench/faults.py, so that each measures the same county.
"""

from __future__ import annotations

import random
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

TODAY = date(2024, 6, 5)  # a Wednesday
NOW = datetime(2024, 6, 5, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
PROBLEMS = ["未按要求公开行政执法信息，公示栏内容更新不及时", "食堂“三防”设施缺失，台账记录不全",
            "专项资金拨付滞后，<b>部分项目</b>未按期开工", "安全生产隐患排查流于形式，整改闭环不到位",
            "信访事项办理超期，群众满意度不高", "行政许可事项办理时限超过法定期限，未按规定告知申请人",
            "执法人员未按规定出示执法证件，执法文书填写不规范"]
OPINIONS = ["限期整改，建立长效机制", "立即整改，举一反三", "完善制度，明确专人负责", "加强培训，规范操作流程"]
OFFICE = ["office1@county.example", "office2@county.example", "office3@county.example"]


def month_end(d: date, months_on: int) -> date:
    m = d.month + months_on + 1  # the first of the month after, minus a day
    return date(d.year + (m - 1) // 12, (m - 1) % 12 + 1, 1) - timedelta(days=1)


def county(n: int, catch_up: bool, seed: int = 7, arrived: bool = False):
    """Rows for units, people, groups and findings (plain tuples/dicts, no ORM)."""
    from rectify.config import default_ladder
    from rectify.core.ladder import reached_level, steps_from
    from rectify.core.workcal import package_calendar

    rnd = random.Random(seed)
    cal = package_calendar()
    ladder = steps_from(default_ladder())
    yesterday = cal.add_working_days(TODAY, -1)
    n_units = max(n // 20, 1)
    n_groups = max(n_units // 12, 1)
    units = [(u, f"单位{u:06d}", "county" if u % 4 else "township", u) for u in range(1, n_units + 1)]
    groups = [(g, f"第{g}督导组") for g in range(1, n_groups + 1)]
    people = []
    for u in range(1, n_units + 1):
        people.append((f"联系人{u}", f"c{u}@unit.example", "unit_contact", u, None))
        people.append((f"负责人{u}", f"l{u}@unit.example", "unit_leader", u, None))
    for g in range(1, n_groups + 1):
        people += [(f"督导员{g}-{k}", f"s{g}-{k}@group.example", "supervisor", None, g) for k in range(3)]
    back = [cal.add_working_days(TODAY, -k) for k in range(0, 131)]

    def rows():
        for i in range(1, n + 1):
            unit = rnd.randint(1, n_units)
            inspected = back[rnd.randint(1, 130)]
            r = rnd.random()
            kind, days, due = "fixed", None, None
            if r < 0.10:
                kind, due = "immediate", cal.add_working_days(inspected, 3)
            elif r < 0.45:
                kind, days = "working_days", rnd.choice((5, 10, 15, 20, 30))
                due = cal.add_working_days(inspected, days)
            elif r < 0.65:
                kind, days = "calendar_days", rnd.choice((7, 15, 30, 60))
                due = inspected + timedelta(days=days)
            elif r < 0.95:  # 3月底前: the end of a month one to three months on
                due = month_end(inspected, rnd.randint(0, 2))
            else:
                kind = "long_term"
            p = rnd.random()
            if due is None:
                state = "open" if p < 0.85 else "closed"
            elif due < TODAY:
                state = ("closed" if p < 0.70 else "reported" if p < 0.78 else "cancelled" if p < 0.80
                         else "rejected" if p < 0.83 else "open")
            else:
                state = "open" if p < 0.65 else "reported" if p < 0.85 else "closed" if p < 0.98 else "rejected"
            level, last_review = 0, None
            if due is not None and not catch_up:
                level = reached_level(cal.working_days_between(due, yesterday), ladder)
            if due is None and state == "open" and not catch_up and inspected < back[20]:
                last_review = back[rnd.randint(1, 20)]  # reviewed every 20 working days: 1/20 due today
            follow = {}
            if arrived and state in ("open", "rejected", "reported"):  # --arrived: all wait for 签收, half late
                follow["ack_due_on"] = yesterday if i % 2 else TODAY
                if state != "reported" and (due is None or due > TODAY + timedelta(days=40)):
                    follow["progress_due_on"] = yesterday if i % 3 == 0 else TODAY  # a third missed
            yield {**follow, "id": i, "code": f"B-{i:07d}", "seq": i, "round_id": 1, "unit_id": unit,
                   "group_id": (unit - 1) // 12 % n_groups + 1, "inspected_on": inspected,
                   "problem": f"{rnd.choice(PROBLEMS)}（第{i}项）", "problem_key": f"{i:064d}",
                   "opinion": rnd.choice(OPINIONS), "deadline_kind": kind, "deadline_days": days,
                   "due_date": due, "original_due_date": due, "state": state, "level": level,
                   "last_review_on": last_review}

    return units, groups, people, rows()


def _finding_columns():
    from models import Finding

    return list(Finding.__table__.columns)


def _fill(row: dict, cols, stamp) -> tuple:
    out = []
    for c in cols:
        if c.name in row:
            out.append(row[c.name])
        elif c.name in ("created_at", "updated_at"):
            out.append(stamp)
        elif c.nullable:
            out.append(None)
        elif c.default is not None and c.default.is_scalar:
            out.append(c.default.arg)
        elif c.server_default is not None:
            out.append({"false": False, "0": 0}.get(str(getattr(c.server_default, "arg", "")), 0))
        else:
            out.append(0 if str(c.type) == "INTEGER" else "")
    return tuple(out)


def build(url: str, n: int, catch_up: bool, arrived: bool = False) -> float:
    """Migrate and fill the database with bulk inserts; returns seconds."""
    from sqlalchemy.engine import make_url

    from rectify.db import make_engine, migrate

    t = time.perf_counter()
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    units, groups, people, findings = county(n, catch_up, arrived=arrived)
    cols = _finding_columns()
    names = [c.name for c in cols]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        import sqlite3

        con = sqlite3.connect(parsed.database)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")
        stamp = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
        con.executemany("INSERT INTO units (id, name, kind, sort_order, aliases, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, '[]', ?, ?)", [(*u, stamp, stamp) for u in units])
        con.executemany("INSERT INTO supervision_groups (id, name) VALUES (?, ?)", groups)
        con.executemany("INSERT INTO people (name, email, role, unit_id, group_id, active) "
                        "VALUES (?, ?, ?, ?, ?, 1)", people)
        con.execute("INSERT INTO rounds (id, name, started_on, two_level_closure) "
                    "VALUES (1, '2024年督导', '2024-01-08', 0)")

        def conv(v):
            return v.isoformat() if isinstance(v, date) else v

        sql = f"INSERT INTO findings ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        batch = []
        for row in findings:
            batch.append(tuple(conv(v) for v in _fill(row, cols, stamp)))
            if len(batch) == 50_000:
                con.executemany(sql, batch)
                batch.clear()
        con.executemany(sql, batch)
        con.commit()
        con.execute("ANALYZE")
        con.close()
    else:
        import psycopg

        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as con, con.cursor() as cur:
            with cur.copy("COPY units (id, name, kind, sort_order, aliases, created_at, updated_at) "
                          "FROM STDIN") as cp:
                for u in units:
                    cp.write_row((*u, "[]", NOW, NOW))
            with cur.copy("COPY supervision_groups (id, name) FROM STDIN") as cp:
                for g in groups:
                    cp.write_row(g)
            with cur.copy("COPY people (name, email, role, unit_id, group_id, active) FROM STDIN") as cp:
                for p in people:
                    cp.write_row((*p, True))
            cur.execute("INSERT INTO rounds (id, name, started_on, two_level_closure) "
                        "VALUES (1, '2024年督导', '2024-01-08', false)")
            with cur.copy(f"COPY findings ({', '.join(names)}) FROM STDIN") as cp:
                for row in findings:
                    cp.write_row(_fill(row, cols, NOW))
            for table in ("units", "supervision_groups", "people", "findings", "rounds"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            con.commit()
            con.autocommit = True
            cur.execute("VACUUM ANALYZE")
    return time.perf_counter() - t


def database(work: Path, db: str):  # -> (url, the throwaway PostgreSQL server to stop, or None)
    """The bench's database: SQLite in `work`, or a database on a throwaway PostgreSQL cluster."""
    if db == "sqlite":
        return f"sqlite:///{work / 'rectify.db'}", None
    from tests.support.pgserver import PgServer

    pg = PgServer().start()
    return pg.create_database("bench"), pg


def finish(work: Path, pg, keep: bool) -> None:
    """`database`'s other end: stop the throwaway PostgreSQL server and remove the work folder (or say where it is)."""
    if pg:
        pg.stop()
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
