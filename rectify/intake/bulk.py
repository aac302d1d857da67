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

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

CHUNK = 5000


class BulkInsert:
    """INSERT INTO table (columns) for many rows given as tuples in `columns` order."""

    def __init__(self, session: Session, table: Table, columns: Sequence[str]):
        self.session = session
        conn = session.connection()
        dialect = conn.dialect
        # Columns left out take their scalar default here, as SQLAlchemy would (a callable one must be given).
        self.defaults: list[Any] = []
        given = list(columns)
        for col in table.columns:
            if col.default is not None and col.key not in given:
                if not col.default.is_scalar:
                    raise ValueError(f"{table.name}.{col.key} has a computed default: give its value")
                given.append(col.key)
                self.defaults.append(col.default.arg)  # type: ignore[attr-defined]
        columns = given
        compiled = insert(table).compile(dialect=dialect, column_keys=columns)
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
        self._memo: list[dict[Any, Any]] = [{} for _ in columns]

    def _convert(self, rows: Iterable[Sequence[Any]], unique: frozenset[int]) -> list[Any]:
        procs = [(i, p, self._memo[i]) for i, p in enumerate(self.processors) if p is not None]
        out: list[Any] = []
        defaults = self.defaults
        for row in rows:
            values = [*row, *defaults]
            for i, proc, memo in procs:
                v = values[i]
                if v is None:
                    continue
                if i in unique:  # value-unique columns (JSON per row): no point remembering
                    values[i] = proc(v)
                    continue
                try:
                    got = memo[v]
                except KeyError:
                    got = memo[v] = proc(v)
                except TypeError:  # unhashable (a dict for JSON)
                    got = proc(v)
                values[i] = got
            if self.positional:
                out.append(tuple(values[j] for j in self.order))
            else:
                out.append(dict(zip(self.columns, values, strict=True)))
        return out

    def run(self, rows: Sequence[Sequence[Any]], *, unique: Iterable[str] = ()) -> None:
        """Insert `rows` (tuples in `columns` order) in chunks; `unique` names columns not worth memoising."""
        skip = frozenset(self.columns.index(c) for c in unique)
        conn = self.session.connection()
        for i in range(0, len(rows), CHUNK):
            params = self._convert(rows[i:i + CHUNK], skip)
            if params:
                conn.exec_driver_sql(self.sql, params)


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
