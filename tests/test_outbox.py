"""The outbox against a real SMTP server: once per key, outages, bad addresses, .eml fallback."""

import email
from datetime import UTC, date, datetime, timedelta
from email.policy import default

from sqlalchemy import select

from models import OutboxMessage
from rectify.mail import outbox
from rectify.mail.compose import InlineImage, build_message
from rectify.mail.deliver import flush_outbox
from rectify.runtime import build_runtime

NOW = datetime(2024, 1, 31, 0, 30, tzinfo=UTC)
DAY = date(2024, 1, 31)


def queued(to: str, kind: str = "daily", subject: str = "【整改提醒】县财政局：3项整改任务将于1月31日到期"):
    msg = build_message(from_addr="rectify@county.example", from_name="整改督办系统", to=to, subject=subject,
                        text="纯文本", html="<p>网页</p>", now=NOW)
    return outbox.Queued(to, kind, DAY, msg, items=3)


def test_it_queues_a_key_once(session) -> None:
    assert outbox.enqueue(session, [queued("a@x.example"), queued("b@x.example")], NOW) == 2
    assert outbox.enqueue(session, [queued("A@x.example"), queued("c@x.example")], NOW) == 1
    session.commit()
    assert session.scalars(select(OutboxMessage.recipient).order_by(OutboxMessage.id)).all() == [
        "a@x.example", "b@x.example", "c@x.example"]


def test_it_delivers_each_message_once_over_smtp(rt, smtp_settings, smtp_sink) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued("a@x.example"), queued("b@x.example")], NOW)
    report = flush_outbox(rt.sessions, smtp_settings, NOW)
    assert report.sent == 2 and report.failed == [] and report.pending == []
    again = flush_outbox(rt.sessions, smtp_settings, NOW)
    assert again.sent == 0
    got = smtp_sink.by_recipient()
    assert sorted(got) == ["a@x.example", "b@x.example"]
    msg = got["a@x.example"][0]
    assert msg["Subject"] == "【整改提醒】县财政局：3项整改任务将于1月31日到期"
    assert "=?utf-8?" in smtp_sink.received[0].data.decode("ascii").lower()  # RFC 2047 encoded on the wire
    assert {p.get_content_type() for p in msg.walk()} >= {"text/plain", "text/html"}
    with rt.sessions() as s:
        assert {r.state for r in s.scalars(select(OutboxMessage))} == {"sent"}


def test_it_records_a_refused_address_as_failed_and_does_not_retry(rt, smtp_settings, smtp_sink) -> None:
    smtp_sink.handler.refuse.add("bad@x.example")
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued("bad@x.example"), queued("ok@x.example")], NOW)
    report = flush_outbox(rt.sessions, smtp_settings, NOW, backoff=0.01)
    assert report.sent == 1
    assert [(r, e[:3]) for _, r, e in report.failed] == [("bad@x.example", "550")]
    assert flush_outbox(rt.sessions, smtp_settings, NOW, backoff=0.01).sent == 0
    with rt.sessions() as s:
        bad = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "bad@x.example")).one()
        assert bad.state == "failed" and bad.attempts == 1 and "550" in bad.last_error


def test_it_keeps_mail_pending_through_an_outage_and_delivers_it_after(rt, smtp_settings, smtp_sink) -> None:
    smtp_sink.stop()
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued(f"p{i}@x.example") for i in range(5)], NOW)
    down = flush_outbox(rt.sessions, smtp_settings, NOW, backoff=0.01)
    assert down.sent == 0 and len(down.pending) == 5 and down.failed == []
    with rt.sessions() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        assert {r.state for r in rows} == {"pending"} and all(r.last_error for r in rows)
    smtp_sink.start()
    up = flush_outbox(rt.sessions, smtp_settings, NOW + timedelta(hours=1))
    assert up.sent == 5
    assert sorted(r.rcpt[0] for r in smtp_sink.received) == sorted(f"p{i}@x.example" for i in range(5))


def test_it_writes_eml_files_without_smtp(rt, settings) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued("a@x.example")], NOW)
    assert flush_outbox(rt.sessions, settings, NOW).sent == 1
    files = list(settings.outbox_path.glob("*.eml"))
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=default)
    assert parsed["To"] == "a@x.example" and parsed["Subject"].startswith("【整改提醒】")
    assert flush_outbox(rt.sessions, settings, NOW).sent == 0
    assert len(list(settings.outbox_path.glob("*.eml"))) == 1


def test_it_never_hands_one_row_to_two_workers(rt, settings) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued(f"w{i}@x.example") for i in range(10)], NOW)
    other = build_runtime(settings)
    try:
        with rt.sessions() as a, other.sessions() as b:
            first = outbox.claim(a, worker="w1", now=NOW, limit=6)
            second = outbox.claim(b, worker="w2", now=NOW, limit=6)
        assert len(first) == 6 and len(second) == 4
        assert not {r.id for r in first} & {r.id for r in second}
    finally:
        other.close()


def test_it_reclaims_rows_of_a_worker_that_died(rt) -> None:
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued("a@x.example")], NOW)
    with rt.sessions() as s:
        assert len(outbox.claim(s, worker="dead", now=NOW)) == 1
        assert outbox.claim(s, worker="w2", now=NOW + timedelta(minutes=1)) == []
        again = outbox.claim(s, worker="w2", now=NOW + timedelta(minutes=11))
        assert [r.claimed_by for r in again] == ["w2"]


def test_it_marks_only_its_own_sending_rows_and_the_same_way_through_a_connection_or_a_session(rt) -> None:
    """A plain connection on SQLite marks through the driver (outbox._sqlite_mark_sent), a session through
    the compiled statement: the same rows change, to the same values, and the same statement is sent."""
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, [queued(f"m{i}@x.example") for i in range(8)], NOW)
    with rt.sessions() as s:  # claim commits its own transaction
        mine = [r.id for r in outbox.claim(s, worker="w1", now=NOW, limit=6)]
        theirs = [r.id for r in outbox.claim(s, worker="w2", now=NOW, limit=1)]
    later = NOW + timedelta(seconds=7)
    with rt.engine.begin() as conn:  # three of mine and one of theirs through a connection
        assert outbox.mark_sent(conn, [*mine[:3], *theirs], worker="w1", now=later) == 3
    with rt.sessions() as s, s.begin():  # the other three (and one pending row) through a session
        assert outbox.mark_sent(s, [*mine[3:], mine[0] + 7], worker="w1", now=later) == 3
    with rt.sessions() as s:
        rows = {r.id: r for r in s.scalars(select(OutboxMessage))}
    seen = {(r.state, r.sent_at, r.last_error, r.lease_until, r.claimed_by) for i, r in rows.items() if i in mine}
    assert seen == {("sent", later, "", None, "w1")}
    assert rows[theirs[0]].state == "sending" and rows[theirs[0]].sent_at is None
    assert sum(r.state == "pending" for r in rows.values()) == 1
    if rt.engine.dialect.name == "sqlite":  # the driver's text is what SQLAlchemy compiles _MARK_SENT to
        from sqlalchemy import event

        sent: list[tuple[str, tuple]] = []

        def seen_sql(conn, cursor, statement, parameters, context, many) -> None:
            sent.append((statement, tuple(parameters)))

        event.listen(rt.engine, "before_cursor_execute", seen_sql)
        try:
            with rt.engine.begin() as conn:
                conn.execute(outbox._MARK_SENT, {"ids": [1, 2], "worker": "w9", "now": later})
                outbox.mark_sent(conn, [1, 2], worker="w9", now=later)
        finally:
            event.remove(rt.engine, "before_cursor_execute", seen_sql)
        assert sent[0] == sent[1]


def test_it_embeds_inline_images_as_related_parts() -> None:
    msg = build_message(from_addr="r@x.example", from_name="整改督办系统", to="a@x.example", subject="周报",
                        text="t", html='<img src="cid:chart1">', now=NOW,
                        inline_images=(InlineImage("chart1", b"\x89PNG fake"),))
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    img = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert img["Content-ID"] == "<chart1>"


def test_a_rows_copy_with_another_message_is_what_replace_makes_and_checks_the_same() -> None:
    import email.message
    from dataclasses import replace

    import pytest

    row = outbox.Queued("li@fin.example", "daily", date(2024, 3, 1), b"<letter>", items=3, meta={"top": "urge"},
                        key_suffix=":2", subject="【整改催办】", channel="wecom")
    for message in (b"", b"other", bytearray(b"x")):
        assert row.with_message(message) == replace(row, message=message)
    assert row.message == b"<letter>"  # the row itself is unchanged
    bare = outbox.Queued("li@fin.example", "daily", date(2024, 3, 1), email.message.EmailMessage())  # no subject
    with pytest.raises(ValueError, match="needs its subject"):
        bare.with_message(b"bytes without a subject")
    with pytest.raises(ValueError, match="needs its subject"):
        replace(bare, message=b"bytes without a subject")
