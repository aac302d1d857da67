"""The form's 销号 in as few statements as it takes: the sign-in check, the finding, and the write, which on
PostgreSQL is one statement in autocommit (the compare-and-set and its event together, no BEGIN/COMMIT round
trips) and on SQLite an UPDATE and an INSERT in the driver's transaction. Both write the same."""

from __future__ import annotations

from sqlalchemy import event, select

from models import Event, Finding
from tests.web.helpers import client, form_tokens


def test_it_closes_a_finding_in_three_statements_on_postgresql_four_on_sqlite(app, rt, world) -> None:
    sup = client(app, world.sup_1)
    csrf, version = form_tokens(sup, world.reported_a)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(" ".join(statement.split()[:3]))

    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        r = sup.post(f"/findings/{world.reported_a}/verify", follow_redirects=False,
                     data={"csrf_token": csrf, "version": str(version), "decision": "close", "note": "核实无误"})
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    assert r.status_code == 303, r.text
    writes = [s for s in statements if not s.startswith("SELECT")]
    if rt.engine.dialect.name == "postgresql":
        assert len(statements) == 3 and writes == ["WITH done AS"]
    else:
        assert len(statements) == 4 and writes == ["UPDATE findings SET", "INSERT INTO events"]
    with rt.sessions() as s:
        f = s.get(Finding, world.reported_a)
        kinds = list(s.scalars(select(Event.kind).where(Event.finding_id == f.id)))
    assert (f.state, f.version, kinds) == ("closed", version + 1, ["verify"])
