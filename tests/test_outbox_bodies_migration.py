"""Migration 0010 moves the outbox's messages into `outbox_bodies` on both backends and back again: every
byte kept, the claim returns them as before, and a row's body goes with the row."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from rectify.db import alembic_config, make_engine
from rectify.mail import claims

LETTER = b"Subject: =?utf-8?b?5pW05pS55o+Q6YaS?=\r\n\r\n" + bytes(range(256)) * 40  # every byte value, 10 KiB
CARD = b'{"touser": "zhangsan", "msgtype": "markdown"}'
INSERT = text("INSERT INTO outbox (dedupe_key, channel, recipient, kind, day, subject, message, items, meta, state, "
              "attempts, last_error, created_at) VALUES (:key, :channel, :to, 'daily', :day, 's', :message, 1, '{}', "
              "'pending', 0, '', :at)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("pg_server").create_database("outbox_bodies_migration")


def test_it_moves_every_message_and_back(url) -> None:
    cfg = alembic_config(url)
    command.upgrade(cfg, "0009")
    engine = make_engine(url)
    at, day = datetime(2024, 6, 5, 0, 0, tzinfo=UTC), date(2024, 6, 5)
    with engine.begin() as conn:
        conn.execute(INSERT, [{"key": "a|1", "channel": "mail", "to": "a@x.example", "day": day, "message": LETTER,
                               "at": at},
                              {"key": "b|1", "channel": "wecom", "to": "zhangsan", "day": day, "message": CARD,
                               "at": at}])
    command.upgrade(cfg, "head")
    engine.dispose()
    engine = make_engine(url)
    assert "message" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    with engine.begin() as conn:
        ids = dict(conn.execute(text("SELECT dedupe_key, id FROM outbox")).all())
        got = claims.claim(conn, "mail", worker="host|1|1|t", now=at, limit=10, returning=("recipient", "message"))
        assert [(r[0], r[1], bytes(r[2])) for r in got] == [(ids["a|1"], "a@x.example", LETTER)]
        conn.execute(text("DELETE FROM outbox WHERE dedupe_key = 'a|1'"))  # the body goes with its row
        left = [(i, bytes(m)) for i, m in conn.execute(text("SELECT id, message FROM outbox_bodies")).all()]
        assert left == [(ids["b|1"], CARD)]
    engine.dispose()
    command.downgrade(cfg, "0009")
    engine = make_engine(url)
    with engine.connect() as conn:
        back = [(k, bytes(m)) for k, m in conn.execute(text("SELECT dedupe_key, message FROM outbox")).all()]
    tables = inspect(engine).get_table_names()
    engine.dispose()
    assert back == [("b|1", CARD)]
    assert "outbox_bodies" not in tables
