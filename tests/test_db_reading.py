"""rectify.db.reading: the form's read-only connections skip BEGIN/ROLLBACK on PostgreSQL, and the pooled
connection goes back transactional for the next user (a write must still be all or nothing)."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Unit
from rectify.db import make_engine, reading


def test_it_reads_outside_a_transaction_and_hands_the_pool_back_unchanged(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=1, max_overflow=0)  # one pooled connection: the same one twice
    try:
        with reading(engine) as conn:
            assert conn.execute(select(func.count()).select_from(Unit)).scalar() == 0
            if engine.dialect.name == "postgresql":
                assert conn.connection.dbapi_connection.autocommit is True
        with engine.connect() as conn:
            assert not getattr(conn.connection.dbapi_connection, "autocommit", False)
            conn.execute(Unit.__table__.insert(), {"name": "县审计局", "kind": "county", "sort_order": 1})
            conn.rollback()
        with reading(engine) as conn:
            assert conn.execute(select(func.count()).select_from(Unit)).scalar() == 0  # the rollback held
    finally:
        engine.dispose()
