"""Bulk inserts for the import: one compiled statement, rows as tuples, one driver executemany per chunk.

Why not `session.execute(insert(table), dicts)`: SQLAlchemy then builds every row's parameters through the
compiler (`construct_params`) and runs every value through its type's bind processor, ~25 µs a row — for
100,000 findings and their 100,000 import events that alone is several seconds, more than the reader and
the checks together. Here the statement is compiled once by SQLAlchemy for the session's dialect, each
column's bind processor is applied once per distinct value (an import holds few distinct dates, kinds and
stamps; a value-unique text column has no processor at all) and the tuples go to the driver through
`exec_driver_sql`, inside the session's transaction like any other statement. SQLite and PostgreSQL
(psycopg, which pipelines an executemany) get the same values SQLAlchemy itself would send.

Ids: the import needs the new findings' ids for their events without a SELECT per row (or RETURNING,
which SQLite's executemany lacks). `reserve_ids` takes them from PostgreSQL's sequence, or on SQLite from
max(id) — the import's transaction then writes them; a concurrent writer that took the same id makes the
insert fail on the primary key, the whole import rolls back and says to run it again.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import chain
from typing import Any

from sqlalchemy import Table, func, insert, literal, literal_column, select, text
from sqlalchemy.orm import Session

CHUNK = 5000
MANY_PARAMS = 3000  # parameters per multi-row INSERT on SQLite (~200 findings a statement)
MIN_FIXED_ROWS = 16  # rows a chunk needs before its constant columns are written into the statement
_PARTIAL = re.compile(r"\)\s*WHERE\s", re.IGNORECASE)
REBUILD_MIN = 2_000  # rows an insert needs before indexes are rebuilt rather than kept up to date


class BulkInsert:
    """INSERT INTO table (columns) for many rows given as tuples in `columns` order."""

    def __init__(self, session: Session, table: Table, columns: Sequence[str]):
        self.session = session
        conn = session.connection()
        dialect = conn.dialect
        # Columns left out take their scalar default, written into the statement as a literal (the same value
        # SQLAlchemy would bind, and fewer parameters for the driver to bind per row); a callable one must be given.
        defaults = {}
        for col in table.columns:
            if col.default is not None and col.key not in columns:
                if not col.default.is_scalar:
                    raise ValueError(f"{table.name}.{col.key} has a computed default: give its value")
                value = literal(col.default.arg, col.type)  # type: ignore[attr-defined]
                defaults[col.key] = literal_column(str(value.compile(dialect=dialect,
                                                                     compile_kwargs={"literal_binds": True})))
        columns = list(columns)
        self.copy_sql = None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            # COPY takes no expressions: the defaults go in as values of every row.
            self.copy_defaults = [col.default.arg for col in table.columns  # type: ignore[union-attr]
                                  if col.key in defaults]
            prep = dialect.identifier_preparer
            names = ", ".join(prep.quote(c) for c in [*columns, *defaults])
            self.copy_sql = f"COPY {prep.format_table(table)} ({names}) FROM STDIN"
        self.table, self.dialect, self.defaults = table, dialect, defaults
        self.columns = columns
        self.sql, self.order = self._compile({})
        # Bind parameter names are the column keys (insert() names them so), processors per column.
        self.processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
        self._memo: list[_Memo | None] = [_Memo(p) if p is not None else None for p in self.processors]
        self._statements: dict[tuple[tuple[int, str], ...], tuple[str, list[int] | None]] = {}

    def _compile(self, fixed: dict[int, str]) -> tuple[str, list[int] | None]:
        """The INSERT with the `fixed` columns (index → SQL literal) written in, and the positions of the
        columns bound per row in the driver's parameter order (None: the driver takes named parameters)."""
        bound = [c for i, c in enumerate(self.columns) if i not in fixed]
        values = {**self.defaults, **{self.columns[i]: literal_column(sql) for i, sql in fixed.items()}}
        compiled = insert(self.table).values(values).compile(dialect=self.dialect, column_keys=bound)
        if set(compiled.params) != set(bound):
            raise ValueError(f"cannot map the compiled parameters of {self.table.name}")
        if not compiled.positional:
            return compiled.string, None
        index = {name: i for i, name in enumerate(self.columns)}
        return compiled.string, [index[name] for name in compiled.positiontup or ()]

    def _columns(self, columns: list[Sequence[Any]], unique: frozenset[int], raw: frozenset[int]
                 ) -> list[Sequence[Any]]:
        """Driver values of `columns` (each processor mapped over its column)."""
        columns = list(columns)
        for i, proc in enumerate(self.processors):
            if proc is None or i in raw:
                continue
            memo = self._memo[i]
            if i in unique or memo is None:
                columns[i] = [None if v is None else proc(v) for v in columns[i]]
            else:
                columns[i] = list(map(memo.__getitem__, columns[i]))
        return columns

    def _statement(self, columns: list[Sequence[Any]]) -> tuple[str, list[int] | None]:
        """SQLite: a column holding one value in every row of the chunk (the import's time stamps, its actor,
        an event's kind…) is written into the statement, not bound per row: the driver's binding, not SQLite,
        is most of an executemany's cost."""
        fixed: dict[int, str] = {}
        if self.dialect.name == "sqlite" and len(columns[0]) >= MIN_FIXED_ROWS:
            for i, col in enumerate(columns):
                first = col[0]
                if col.count(first) == len(col) and (sql := _sqlite_literal(first)) is not None:
                    fixed[i] = sql
        if not fixed:
            return self.sql, self.order
        key = tuple(fixed.items())
        got = self._statements.get(key)
        if got is None:
            if len(self._statements) >= 32:
                self._statements.clear()
            got = self._statements[key] = self._compile(fixed)
        return got

    def run(self, rows: Sequence[Sequence[Any]], *, unique: Iterable[str] = (), raw: Iterable[str] = ()) -> None:
        """Insert `rows` (tuples in `columns` order); see `run_columns`."""
        if rows:
            self.run_columns(list(zip(*rows, strict=True)), unique=unique, raw=raw)

    def run_columns(self, columns: Sequence[Sequence[Any]], *, unique: Iterable[str] = (),
                    raw: Iterable[str] = ()) -> None:
        """Insert rows given column by column (sequences in `columns` order, all one length), in chunks;
        `unique` names columns not worth memoising, `raw` columns whose values are already what the driver
        takes (a JSON column's text)."""
        skip = frozenset(self.columns.index(c) for c in unique)
        given = frozenset(self.columns.index(c) for c in raw)
        if len(columns) != len(self.columns):
            raise ValueError(f"{len(columns)} columns given for {len(self.columns)}")
        total = len(columns[0]) if columns else 0
        if any(len(c) != total for c in columns):
            raise ValueError("columns of different lengths")
        conn = self.session.connection()
        chunks = [self._columns([c[i:i + CHUNK] for c in columns], skip, given) for i in range(0, total, CHUNK)]
        if self.copy_sql is not None:  # PostgreSQL: COPY, in this transaction, several times an executemany's speed
            extra = tuple(self.copy_defaults)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(self.copy_sql) as copy:
                for chunk in chunks:
                    for values in zip(*chunk, strict=True):
                        copy.write_row((*values, *extra))
            return
        for chunk in chunks:
            sql, order = self._statement(chunk)
            if order is None:
                params: list[Any] = [dict(zip(self.columns, values, strict=True))
                                     for values in zip(*chunk, strict=True)]
            elif order and self.dialect.name == "sqlite":
                _many_rows(conn, sql, [chunk[j] for j in order])
                continue
            else:
                params = list(zip(*(chunk[j] for j in order), strict=True)) if order else [()] * len(chunk[0])
            conn.exec_driver_sql(sql, params)


def _many_rows(conn: Any, sql: str, columns: list[Sequence[Any]]) -> None:
    """SQLite: the rows of one chunk as INSERT … VALUES (…), (…), … statements of many rows each.

    An executemany of a one-row INSERT pays, per row, the driver's reset-bind-step round and a step of its own;
    one statement of ~200 rows binds its parameters in one go and inserts them in one step, a third less CPU for
    the findings. The parameters of each statement are the rows' values one after another, taken by C-level
    slicing of the flattened chunk; the last, shorter statement takes the rows left over."""
    width, total = len(columns), len(columns[0])
    limit = _variable_limit(conn)
    per = max(1, min(MANY_PARAMS // width, limit // width, total))
    head, _, one = sql.partition(" VALUES ")
    flat = list(chain.from_iterable(zip(*columns, strict=True)))
    step = per * width
    full = (total // per) * step
    if full:
        conn.exec_driver_sql(f"{head} VALUES {', '.join([one] * per)}",
                             [tuple(flat[i:i + step]) for i in range(0, full, step)])
    if full < len(flat):
        conn.exec_driver_sql(f"{head} VALUES {', '.join([one] * ((len(flat) - full) // width))}", tuple(flat[full:]))


def _variable_limit(conn: Any) -> int:
    """The most parameters one SQLite statement may hold (999 before SQLite 3.32, 32,766 since)."""
    return int(conn.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def _sqlite_literal(value: Any) -> str | None:
    """`value` (a driver value) as a SQLite literal, or None when it is not one worth writing in."""
    if value is None:
        return "NULL"
    if value.__class__ is int:
        return str(value)
    if value.__class__ is str and len(value) <= 200 and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None


class _Memo(dict[Any, Any]):
    """A bind processor applied once per distinct value (None stays None, as SQLAlchemy sends it)."""

    def __init__(self, proc: Any):
        super().__init__({None: None})
        self.proc = proc

    def __missing__(self, value: Any) -> Any:
        got = self[value] = self.proc(value)
        return got


@contextmanager
def big_cache(session: Session, kib: int = 65536) -> Iterator[None]:
    """On SQLite, a larger page cache while the import writes: 100,000 findings land in indexes keyed by
    problem hash (random order), which with the default 2 MiB cache re-reads pages for every row."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def reserve_ids(session: Session, table: Table, n: int) -> list[int]:
    """`n` new primary keys for `table` (column `id`): the sequence's on PostgreSQL, max(id)+1… on SQLite."""
    if n <= 0:
        return []
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                            {"t": table.name, "n": n})
        return sorted(r[0] for r in rows)
    top = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(top + 1, top + n + 1))


@contextmanager
def indexes_rebuilt(session: Session, table: Table, adding: int) -> Iterator[None]:
    """On SQLite, when `adding` rows at least match what `table` holds, its secondary indexes are dropped
    before the inserts and created again after them, in the same transaction: building an index from the
    finished table (one sort) costs far less than 100,000 inserts at random places of four indexes. A rollback
    undoes the drop with the rest; readers see the old indexes until the commit. Elsewhere, or for an insert
    small beside the table (rebuilding would then cost more), nothing changes."""
    conn = session.connection()
    if conn.dialect.name != "sqlite" or adding < REBUILD_MIN:
        yield
        return
    quoted = conn.dialect.identifier_preparer.format_table(table)
    held = conn.exec_driver_sql(f"SELECT count(*) FROM {quoted}").scalar() or 0
    if adding < held:
        yield
        return
    # A partial index (… WHERE closed_at IS NOT NULL) stays: new rows seldom enter it, and rebuilding it would
    # scan the whole table for nothing.
    indexes = [(name, sql) for name, sql in conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table.name,)).all() if not _PARTIAL.search(sql)]
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {conn.dialect.identifier_preparer.quote(name)}")
    try:
        yield
    except BaseException:
        with suppress(Exception):  # the caller rolls back anyway; this only keeps the schema whole if it does not
            for _, sql in indexes:
                conn.exec_driver_sql(sql)
        raise
    for _, sql in indexes:
        conn.exec_driver_sql(sql)
    _restat(conn, quoted)


def _restat(conn: Any, quoted: str) -> None:
    """The planner's statistics of a table whose indexes were rebuilt: DROP INDEX deleted their sqlite_stat1
    rows, and until the next `refresh_statistics` SQLite would guess for those four indexes while it knows the
    others. Sampled as `refresh_statistics` samples (milliseconds); a database that never had statistics is
    left without (its planner then guesses alike for every table)."""
    if not conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        return
    from rectify.db import ANALYSIS_LIMIT

    before = conn.exec_driver_sql("PRAGMA analysis_limit").scalar()
    conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    try:
        conn.exec_driver_sql(f"ANALYZE {quoted}")
    finally:
        conn.exec_driver_sql(f"PRAGMA analysis_limit={int(before or 0)}")
