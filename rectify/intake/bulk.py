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

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, func, insert, literal, literal_column, select, text
from sqlalchemy.orm import Session

CHUNK = 5000


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
        compiled = insert(table).values(defaults).compile(dialect=dialect, column_keys=columns)
        if set(compiled.params) != set(columns):
            raise ValueError(f"cannot map the compiled parameters of {table.name}")
        self.sql = compiled.string
        self.columns = columns
        self.positional = bool(compiled.positional)
        if self.positional:
            order = {name: i for i, name in enumerate(columns)}
            self.order = [order[name] for name in compiled.positiontup or ()]
        # Bind parameter names are the column keys (insert() names them so), processors per column.
        self.processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
        self._memo: list[_Memo | None] = [_Memo(p) if p is not None else None for p in self.processors]

    def _convert(self, rows: Sequence[Sequence[Any]], unique: frozenset[int], *, plain: bool = False) -> list[Any]:
        """Driver parameters for `rows`: column by column (each processor mapped over its column), then back."""
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for i, proc in enumerate(self.processors):
            if proc is None:
                continue
            memo = self._memo[i]
            if i in unique or memo is None:
                columns[i] = [None if v is None else proc(v) for v in columns[i]]
            else:
                columns[i] = list(map(memo.__getitem__, columns[i]))
        if plain:  # tuples in `columns` order (COPY)
            return list(zip(*columns, strict=True))
        if self.positional:
            return list(zip(*(columns[j] for j in self.order), strict=True))
        return [dict(zip(self.columns, values, strict=True)) for values in zip(*columns, strict=True)]

    def run(self, rows: Sequence[Sequence[Any]], *, unique: Iterable[str] = ()) -> None:
        """Insert `rows` (tuples in `columns` order) in chunks; `unique` names columns not worth memoising."""
        skip = frozenset(self.columns.index(c) for c in unique)
        conn = self.session.connection()
        if self.copy_sql is not None:  # PostgreSQL: COPY, in this transaction, several times an executemany's speed
            extra = tuple(self.copy_defaults)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(self.copy_sql) as copy:
                for i in range(0, len(rows), CHUNK):
                    chunk = rows[i:i + CHUNK]
                    if chunk:
                        for values in self._convert(chunk, skip, plain=True):
                            copy.write_row((*values, *extra))
            return
        for i in range(0, len(rows), CHUNK):
            chunk = rows[i:i + CHUNK]
            if chunk:
                conn.exec_driver_sql(self.sql, self._convert(chunk, skip))


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
