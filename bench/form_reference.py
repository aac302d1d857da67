"""The bare floor for bench/form_load.py: what a request costs on this machine with no framework at all.

A plain ASGI callable under the same uvicorn and workers as `rectify web`: GET /findings/{id} reads the
finding with one query (sqlite3, or psycopg in autocommit on PostgreSQL) and answers a page of the same
size as the real one (hidden csrf_token and version fields included); POST /findings/{id}/verify reads the
form and closes it with one compare-and-set UPDATE, then 303. No session, no template engine, no ORM, no
access check: the ceiling, not a competitor.

    FORM_REFERENCE_DB=/path/rectify.db uvicorn form_reference:app --app-dir bench --workers 2
    FORM_REFERENCE_DB=postgresql://user@host:port/db uvicorn form_reference:app --app-dir bench --workers 2

One connection per thread, queries run on the event loop (a blocking call of a fraction of a millisecond on
loopback): the least a request can cost, not how an app should serve.
"""

from __future__ import annotations

import html
import os
import sqlite3
import threading
from urllib.parse import parse_qs

PAGE_BYTES = 9000  # about the size of rectify's finding page
_local = threading.local()


TARGET = os.environ.get("FORM_REFERENCE_DB", "")
POSTGRES = TARGET.startswith("postgresql://")
MARK = "%s" if POSTGRES else "?"  # the drivers' parameter styles
SELECT = f"SELECT code, problem, state, version FROM findings WHERE id = {MARK}"
UPDATE = f"UPDATE findings SET state = 'closed', version = version + 1 WHERE id = {MARK} AND version = {MARK}"


def _db():
    conn = getattr(_local, "conn", None)
    if conn is None:
        if POSTGRES:
            import psycopg

            conn = psycopg.connect(TARGET, autocommit=True, prepare_threshold=0)
        else:
            conn = sqlite3.connect(TARGET, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
        _local.conn = conn
    return conn


async def _body(receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _send(send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _page(fid: int) -> bytes:
    row = _db().execute(SELECT, (fid,)).fetchone()
    if row is None:
        return b""
    code, problem, state, version = row
    head = (f"<!doctype html><html lang=zh><title>{html.escape(code)}</title><h1>{html.escape(problem)}</h1>"
            f"<p>{html.escape(state)}</p><form method=post action=/findings/{fid}/verify>"
            f'<input type=hidden name="csrf_token" value="reference"><input type=hidden name="version" '
            f'value="{version}"><button name=decision value=close>销号</button></form>').encode()
    return head + b" " * max(0, PAGE_BYTES - len(head))


def _verify(fid: int, form: dict[str, list[str]]) -> None:
    version = int(form.get("version", ["0"])[0])
    db = _db()
    if POSTGRES:  # autocommit: the one UPDATE is its own transaction
        db.execute(UPDATE, (fid, version))
        return
    db.execute("BEGIN IMMEDIATE")
    db.execute(UPDATE, (fid, version))
    db.execute("COMMIT")


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    parts = scope["path"].strip("/").split("/")
    if scope["path"] == "/signin":
        await _send(send, 200, b"ok")
    elif len(parts) == 2 and parts[0] == "findings" and parts[1].isdigit() and scope["method"] == "GET":
        body = _page(int(parts[1]))
        await _send(send, 200 if body else 404, body)
    elif len(parts) == 3 and parts[2] == "verify" and parts[1].isdigit() and scope["method"] == "POST":
        _verify(int(parts[1]), parse_qs((await _body(receive)).decode()))
        await _send(send, 303, b"", [(b"location", f"/findings/{parts[1]}?done=verify".encode())])
    else:
        await _send(send, 404, b"")
