"""钉钉's send results (getsendresult) against the fake on 127.0.0.1, on SQLite and PostgreSQL: asyncsend_v2
accepts any userid; the task's result then fails an invalid or refused one with 钉钉's words, puts a
flow-controlled one back to pending, and settles the rest as delivered - in the same dispatch when the task
finishes within `result_wait`, else at the next one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import OutboxMessage
from rectify.channels.dispatch import dispatch
from rectify.channels.settings import ChannelSettings
from rectify.runtime import build_runtime
from tests.support.fake_vendors import FakeVendors, channel_settings
from tests.test_channels_send import AT_WORK, queue, row


@pytest.fixture
def fake():
    server = FakeVendors().start()
    yield server
    server.stop()


def runtime(settings, fake, wait: float):
    cfg = channel_settings(fake.url)
    cfg["dingtalk"] = {**cfg["dingtalk"], "result_wait": wait}
    return build_runtime(settings.model_copy(update={"channels": ChannelSettings.model_validate(cfg)}))


@pytest.fixture
def crt(settings, fake):
    rt = runtime(settings, fake, 2.0)
    yield rt
    rt.close()


def ding(rt) -> dict[str, tuple[str, str, dict]]:
    with rt.sessions() as s:
        return {r.recipient: (r.state, r.last_error, r.meta) for r in
                s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "dingtalk"))}


def test_it_fails_an_invalid_userid_from_the_send_result_and_keeps_the_task_id(crt, fake) -> None:
    fake.invalid_users.add("ding-ghost")
    queue(crt, row("g@u.example", "dingtalk", "ding-ghost"), row("l@u.example", "dingtalk", "ding-li"))
    report = dispatch(crt, AT_WORK)
    assert report.sent["dingtalk"] == 2  # asyncsend_v2 accepted both tasks
    assert [(r, e) for _, c, r, e in report.failed] == [
        ("g@u.example", "钉钉 getsendresult: 无效的userid ding-ghost (invalid_user_id_list)")]
    rows = ding(crt)
    assert rows["g@u.example"][:2] == ("failed", "钉钉 getsendresult: 无效的userid ding-ghost (invalid_user_id_list)")
    assert rows["l@u.example"][:2] == ("sent", "") and rows["l@u.example"][2]["result"] == "delivered"
    tasks = {r: m["task_id"] for r, (_, _, m) in rows.items()}
    assert sorted(int(t) for t in tasks.values()) == sorted(fake.tasks) and fake.to("dingtalk") == ["ding-li"]
    reads = sum(fake.result_reads.values())
    again = dispatch(crt, AT_WORK + timedelta(hours=1))  # settled: neither sent nor read again
    assert sum(again.sent.values()) == 0 and not again.failed and sum(fake.result_reads.values()) == reads


def test_a_task_still_running_is_waited_for_then_read_at_the_next_dispatch(settings, fake) -> None:
    fake.invalid_users.add("ding-ghost")
    fake.task_seconds = 0.6  # finishes within the wait: settled by the same dispatch
    rt = runtime(settings, fake, 3.0)
    try:
        queue(rt, row("a@u.example", "dingtalk", "ding-ghost"))
        assert [r for _, _, r, _ in dispatch(rt, AT_WORK).failed] == ["a@u.example"]
        assert max(fake.result_reads.values()) >= 2  # read, polled, read again
    finally:
        rt.close()
    fake.task_seconds = 3600  # longer than the wait: the next dispatch reads it
    rt = runtime(settings, fake, 0.0)
    try:
        queue(rt, row("b@u.example", "dingtalk", "ding-ghost"))
        first = dispatch(rt, AT_WORK)
        assert first.sent["dingtalk"] == 1 and not first.failed
        assert ding(rt)["b@u.example"][0] == "sent" and "result" not in ding(rt)["b@u.example"][2]
        fake.tasks = {t: (to, 0.0) for t, (to, _) in fake.tasks.items()}  # 钉钉 has finished meanwhile
        later = dispatch(rt, AT_WORK + timedelta(hours=3))
        assert [(r, e) for _, _, r, e in later.failed] == [
            ("b@u.example", "钉钉 getsendresult: 无效的userid ding-ghost (invalid_user_id_list)")]
        assert ding(rt)["b@u.example"][0] == "failed"
        # 钉钉 keeps a task's result 24 hours: an older row is no longer asked about.
        queue(rt, row("c@u.example", "dingtalk", "ding-ghost"))
        dispatch(rt, AT_WORK + timedelta(hours=4))
        reads = sum(fake.result_reads.values())
        fake.tasks = {t: (to, 0.0) for t, (to, _) in fake.tasks.items()}
        assert not dispatch(rt, AT_WORK + timedelta(hours=29)).failed
        assert sum(fake.result_reads.values()) == reads and ding(rt)["c@u.example"][0] == "sent"
    finally:
        rt.close()


def test_flow_control_sends_again_a_repeat_counts_as_delivered_a_daily_limit_fails(crt, fake) -> None:
    fake.forbidden.update({"ding-fast": "143103", "ding-twice": "143106", "ding-many": "143105"})
    queue(crt, row("f@u.example", "dingtalk", "ding-fast"), row("t@u.example", "dingtalk", "ding-twice"),
          row("m@u.example", "dingtalk", "ding-many"))
    report = dispatch(crt, AT_WORK)
    assert [(r, e) for _, _, r, e in report.pending] == [
        ("f@u.example", "钉钉 getsendresult: 被流控 143103 企业单应用消息发送人次QPM超限")]
    assert [(r, e) for _, _, r, e in report.failed] == [
        ("m@u.example", "钉钉 getsendresult: 被流控 143105 单应用给单人每日推送量超限")]
    rows = ding(crt)
    assert rows["f@u.example"][0] == "pending" and rows["m@u.example"][0] == "failed"
    assert rows["t@u.example"][0] == "sent" and "143106" in rows["t@u.example"][2]["result"]
    del fake.forbidden["ding-fast"]  # the next minute: the flow-controlled row goes again, and arrives
    again = dispatch(crt, AT_WORK + timedelta(minutes=5))
    assert again.sent["dingtalk"] == 1 and not again.failed and not again.pending
    assert fake.to("dingtalk") == ["ding-fast"]
    meta = ding(crt)["f@u.example"][2]
    assert meta["result"] == "delivered" and int(meta["task_id"]) == max(fake.tasks)
