"""The weekly digest through the outbox to a real SMTP server: figures, inline charts by Content-ID,
once per week."""

from datetime import UTC, date, datetime

from sqlalchemy import select

from models import OutboxMessage
from rectify.bulletin.digest import send_weekly_digest
from rectify.runtime import build_runtime
from tests.support import bulletin_data

FRI = date(2024, 1, 19)
NOW = datetime(2024, 1, 19, 8, 0, tzinfo=UTC)


def test_it_mails_the_digest_with_inline_charts_once_a_week(smtp_settings, smtp_sink) -> None:
    rt = build_runtime(smtp_settings)
    try:
        with rt.sessions() as s:
            bulletin_data.seed(s)
        run = send_weekly_digest(rt, week_of=FRI, today=FRI, now=NOW)
        assert run.queued == 1 and run.report.sent == 1
        this, last = run.digest.this, run.digest.last
        assert (this.new, this.closed, this.awaiting, this.overdue) == (1, 2, 1, 1)
        assert (last.new, last.closed, last.awaiting, last.overdue) == (5, 0, 0, 0)

        (msg,) = smtp_sink.by_recipient()["office@county.example"]
        assert msg["Subject"] == "【整改周报】1月15日至1月21日：新增问题1个，销号2个，逾期1个"
        related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
        assert len(related) == 1
        parts = list(related[0].iter_parts())
        html = parts[0].get_content()
        images = [p for p in parts if p.get_content_type() == "image/png"]
        cids = [p["Content-ID"].strip("<>") for p in images]
        assert len(images) == 2 and all(p.get_content().startswith(b"\x89PNG") for p in images)
        assert all(f'src="cid:{cid}"' in html for cid in cids)
        assert "执法案卷评查未开展" in html and "http://127.0.0.1:8400/" in html
        text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
        assert "逾期未整改1个，较上周增加1个" in text and "本周销号2个，较上周增加2个" in text

        again = send_weekly_digest(rt, week_of=date(2024, 1, 17), today=FRI, now=NOW)
        assert again.queued == 0 and again.report.sent == 0 and len(smtp_sink.received) == 1
        with rt.sessions() as s:
            row = s.scalars(select(OutboxMessage)).one()
            assert (row.kind, row.day, row.state) == ("digest", date(2024, 1, 15), "sent")
    finally:
        rt.close()


def test_it_escapes_problem_text_in_the_digest(rt) -> None:
    from rectify.bulletin.digest import build, render_digest

    with rt.sessions() as s:
        data = bulletin_data.seed(s)
        data.overdue.problem = "<img src=x onerror=alert(1)>"
        s.commit()
    r = render_digest(build(rt, week_of=FRI, today=FRI), rt.settings)
    assert "&lt;img src=x onerror=alert(1)&gt;" in r.html and "<img src=x" not in r.html
    assert "| 逾期未整改 | 1 | 0 | +1 |" in r.markdown


def test_it_queues_nothing_without_command_office_addresses(settings) -> None:
    rt = build_runtime(settings.model_copy(update={"command_office": []}))
    try:
        run = send_weekly_digest(rt, week_of=FRI, today=FRI, now=NOW)
        assert run.queued == 0 and run.report.sent == 0
    finally:
        rt.close()
