"""IM and SMS rows through local fake vendors (127.0.0.1 only): sent once, token refresh, 429 backoff, a bad
userid failing once, quiet hours, a channel down, a crash between send and record, no secret anywhere."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from models import OutboxBody, OutboxMessage
from rectify.channels.dispatch import dispatch
from rectify.channels.settings import ChannelSettings
from rectify.channels.tokens import TokenCache
from rectify.mail import outbox
from rectify.runtime import build_runtime
from tests.support.envvars import rectify_env
from tests.support.fake_vendors import SECRETS, FakeVendors, channel_settings

DAY = date(2026, 11, 30)  # a Monday
AT_WORK = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


@pytest.fixture
def fake():
    server = FakeVendors().start()
    yield server
    server.stop()


@pytest.fixture
def crt(settings, fake):
    runtime = build_runtime(settings.model_copy(update={
        "channels": ChannelSettings.model_validate(channel_settings(fake.url))}))
    yield runtime
    runtime.close()


def row(to: str, channel: str, address: str, who: str = "", day: date = DAY) -> outbox.Queued:
    payload = {"to": address, "title": "【整改催办】县财政局：2项整改任务待办理", "markdown": "**催办** 2项",
               "description": "2项", "url": "http://127.0.0.1:8400/findings",
               "text": "【整改督办】您有2项整改任务待办理"}
    return outbox.Queued(who or to, "daily", day, json.dumps(payload, ensure_ascii=False).encode(),
                         subject=payload["title"], channel=channel)


def queue(rt, *rows: outbox.Queued) -> None:
    with rt.sessions() as s, s.begin():
        assert outbox.enqueue(s, rows, AT_WORK) == len(rows)


def states(rt) -> dict[tuple[str, str], tuple[str, int]]:
    with rt.sessions() as s:
        return {(r.channel, r.recipient): (r.state, r.attempts) for r in s.scalars(select(OutboxMessage))}


def test_it_sends_each_row_once_on_every_channel(crt, fake) -> None:
    queue(crt, row("li@u.example", "wecom", "LiLi"), row("li@u.example", "dingtalk", "ding-li"),
          row("li@u.example", "sms", "13800138000"), row("robot:第一督导组", "wecom_robot", "第一督导组"),
          row("robot:第二督导组", "dingtalk_robot", "第二督导组"))
    first = dispatch(crt, AT_WORK)
    assert dict(first.sent) == {"wecom": 1, "dingtalk": 1, "sms": 1, "wecom_robot": 1, "dingtalk_robot": 1}
    again = dispatch(crt, AT_WORK + timedelta(hours=1))
    assert sum(again.sent.values()) == 0
    assert (fake.to("wecom"), fake.to("dingtalk"), fake.to("sms")) == (["LiLi"], ["ding-li"], ["13800138000"])
    assert len(fake.to("wecom_robot")) == len(fake.to("dingtalk_robot")) == 1  # 钉钉's signed request accepted
    assert set(states(crt).values()) == {("sent", 1)}
    # The payload is the documented shape: markdown to a userid through the app's agent.
    sent = next(d for d in fake.deliveries if d.vendor == "wecom").body
    assert sent["touser"] == "LiLi" and sent["markdown"]["content"] == "**催办** 2项"
    assert sent["enable_duplicate_check"] == 1


def test_it_refreshes_an_expired_token_and_resends(crt, fake) -> None:
    queue(crt, row("a@u.example", "wecom", "A"))
    dispatch(crt, AT_WORK)
    fake.expire_tokens()  # the vendor now answers 42001 to the old token
    queue(crt, row("b@u.example", "wecom", "B"))
    report = dispatch(crt, AT_WORK)
    assert report.sent["wecom"] == 1 and fake.to("wecom") == ["A", "B"]
    assert fake.token_fetches["wecom"] == 2


def test_it_caches_a_token_until_shortly_before_it_expires() -> None:
    import asyncio

    now = [0.0]
    issued: list[str] = []

    async def fetch():
        issued.append(f"t{len(issued) + 1}")
        return issued[-1], 7200

    async def scenario() -> None:
        cache = TokenCache(fetch, clock=lambda: now[0])
        assert await asyncio.gather(*(cache.get() for _ in range(3))) == ["t1"] * 3  # one fetch for all
        now[0] = 7200 - 301  # still before the refresh margin
        assert await cache.get() == "t1"
        now[0] = 7200 - 299
        assert await cache.get() == "t2"
        cache.invalidate("t1")  # a late failure of the old token does not throw the new one away
        assert await cache.get() == "t2" and cache.fetches == 2

    asyncio.run(scenario())


def test_it_backs_off_on_429_and_rate_limit_codes_then_delivers(crt, fake) -> None:
    queue(crt, row("a@u.example", "wecom", "A"), row("a@u.example", "sms", "13800138000"))
    fake.answer_next("wecom", 429, {"errcode": 45009, "errmsg": "api freq out of limit"}, headers={"Retry-After": "0"})
    fake.answer_next("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    fake.answer_next("sms", 503, {"code": "busy"}, times=2)
    report = dispatch(crt, AT_WORK)
    assert dict(report.sent) == {"wecom": 1, "sms": 1} and not report.pending
    assert fake.to("wecom") == ["A"] and fake.to("sms") == ["13800138000"]
    # Still limited after every try: left pending for the next run, the vendor's words recorded.
    queue(crt, row("b@u.example", "wecom", "B"))
    fake.answer_next("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, times=3)
    report = dispatch(crt, AT_WORK)
    assert [(c, r) for _, c, r, _ in report.pending] == [("wecom", "b@u.example")]
    assert states(crt)[("wecom", "b@u.example")] == ("pending", 1)
    assert dispatch(crt, AT_WORK).sent["wecom"] == 1


def test_it_fails_an_invalid_userid_once_with_the_vendors_message(crt, fake) -> None:
    fake.invalid_users.add("ghost")
    fake.blocked_numbers.add("13900000000")
    queue(crt, row("g@u.example", "wecom", "ghost"), row("g@u.example", "sms", "13900000000"),
          row("h@u.example", "wecom", "Real"))
    report = dispatch(crt, AT_WORK)
    failed = {(c, r): e for _, c, r, e in report.failed}
    assert failed == {("wecom", "g@u.example"): "企业微信 message/send: 81013 user & party & tag all invalid",
                      ("sms", "g@u.example"): "短信网关: blacklist 号码在黑名单中"}
    sends_to_ghost = [p for p in fake.requests if p.startswith("/cgi-bin/message/send")]
    assert len(sends_to_ghost) == 2  # ghost once (no retry of a "never"), Real once
    assert states(crt)[("wecom", "g@u.example")] == ("failed", 1)
    assert sum(dispatch(crt, AT_WORK).sent.values()) == 0  # failed rows are not tried again


def test_it_defers_to_the_next_working_morning_in_quiet_hours(crt, fake) -> None:
    queue(crt, row("a@u.example", "wecom", "A"))
    friday_evening = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)  # 20:30 in Shanghai, Friday
    report = dispatch(crt, friday_evening)
    assert report.deferred_until == datetime(2026, 12, 7, 8, 30, tzinfo=report.deferred_until.tzinfo)  # Monday
    assert report.deferred_until.utcoffset() == timedelta(hours=8)
    assert fake.to("wecom") == [] and states(crt)[("wecom", "a@u.example")] == ("pending", 0)
    early = dispatch(crt, datetime(2026, 12, 7, 0, 0, tzinfo=UTC))  # 08:00 Monday: still quiet
    assert early.deferred_until is not None and not early.sent
    assert dispatch(crt, report.deferred_until).sent["wecom"] == 1 and fake.to("wecom") == ["A"]


def test_a_channel_that_is_down_leaves_its_rows_pending_and_others_go_on(settings, fake) -> None:
    broken = channel_settings(fake.url)
    broken["wecom"] = {**broken["wecom"], "secret": "wrong-secret"}
    rt = build_runtime(settings.model_copy(update={"channels": ChannelSettings.model_validate(broken)}))
    try:
        queue(rt, row("a@u.example", "wecom", "A"), row("b@u.example", "wecom", "B"),
              row("a@u.example", "sms", "13800138000"))
        report = dispatch(rt, AT_WORK)
        assert report.down == {"wecom": "企业微信 gettoken: 40001 invalid credential"}
        assert report.sent["sms"] == 1
        # Not the rows' fault: pending, no attempt counted, the reason shown.
        assert [states(rt)[("wecom", r)] for r in ("a@u.example", "b@u.example")] == [("pending", 0)] * 2
        assert {e for _, c, _, e in report.pending if c == "wecom"} == {report.down["wecom"]}
    finally:
        rt.close()
    fake.stop()  # now the whole vendor is unreachable: connection refused
    rt = build_runtime(settings.model_copy(update={"channels": ChannelSettings.model_validate(
        channel_settings(fake.url))}))
    try:
        report = dispatch(rt, AT_WORK)
        assert set(report.down) == {"wecom"} and "unreachable" in report.down["wecom"]
        assert [states(rt)[("wecom", r)] for r in ("a@u.example", "b@u.example")] == [("pending", 0)] * 2
        fake.start()  # back on the same port
        assert dispatch(rt, AT_WORK).sent["wecom"] == 2
        assert [states(rt)[("wecom", r)] for r in ("a@u.example", "b@u.example")] == [("sent", 1)] * 2
    finally:
        rt.close()


def test_a_crash_between_send_and_record_resends_at_most_the_one_in_flight(crt, fake) -> None:
    import asyncio

    import httpx

    from rectify.channels.vendors import Wecom

    queue(crt, row("a@u.example", "wecom", "A"), row("b@u.example", "wecom", "B"))
    with crt.sessions() as s:  # a worker claims A, sends it, and dies before marking it
        claimed = outbox.claim(s, worker="dead-worker", now=AT_WORK, limit=1, channels=("wecom",))
        payload = json.loads(s.get(OutboxBody, claimed[0].id).message)

    async def in_flight():
        async with httpx.AsyncClient() as http:
            await Wecom(crt.settings.channels.wecom, http).send("A", payload)

    asyncio.run(in_flight())
    assert dispatch(crt, AT_WORK + timedelta(minutes=1)).sent["wecom"] == 1  # B; A's claim is still fresh
    assert dispatch(crt, AT_WORK + timedelta(minutes=11)).sent["wecom"] == 1  # A's stale claim: resent once
    assert sum(dispatch(crt, AT_WORK + timedelta(minutes=30)).sent.values()) == 0
    assert sorted(fake.to("wecom")) == ["A", "A", "B"]


def test_no_secret_reaches_the_logs_or_outbox_list(crt, fake, caplog, tmp_path, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    fake.invalid_users.update({"ghost", "ding-ghost"})
    queue(crt, row("g@u.example", "wecom", "ghost"), row("r@u.example", "dingtalk_robot", "第二督导组"),
          row("s@u.example", "sms", "13800138000"), row("d@u.example", "dingtalk", "ding-ghost"))
    fake.answer_next("sms", 200, {"code": "9", "message": "busy"}, times=3)
    report = dispatch(crt, AT_WORK)
    assert report.failed and report.pending
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    env.update(rectify_env(crt.settings))
    listed = subprocess.run([sys.executable, "-m", "rectify", "outbox", "list"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "wecom" in listed.stdout and "81013" in listed.stdout and "sms" in listed.stdout
    assert "无效的userid ding-ghost" in listed.stdout  # 钉钉's send result, read after the send
    tokens = [p.split("access_token=")[1].split("&")[0] for p in fake.requests if "access_token=" in p]
    shown = caplog.text + listed.stdout + listed.stderr + repr(crt.settings)
    with crt.sessions() as s:
        shown += " ".join(error + message.decode() for error, message in s.execute(
            select(OutboxMessage.last_error, OutboxBody.message).join(OutboxBody, OutboxBody.id == OutboxMessage.id)))
    assert "HTTP Request" in caplog.text and "corpsecret=***" in caplog.text  # httpx logged, scrubbed
    assert tokens and not [x for x in (*SECRETS, *tokens) if x in shown]


def test_retry_can_take_one_channel_and_refuses_an_unknown_one(crt, fake, tmp_path) -> None:
    queue(crt, row("a@u.example", "wecom", "A"), row("a@u.example", "sms", "13800138000"))
    assert dict(dispatch(crt, AT_WORK, only="sms").sent) == {"sms": 1}  # `rectify outbox retry --channel sms`
    assert states(crt)[("wecom", "a@u.example")] == ("pending", 0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    env.update(rectify_env(crt.settings))
    bad = subprocess.run([sys.executable, "-m", "rectify", "outbox", "retry", "--channel", "fax"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown channel 'fax'" in bad.stderr and "Traceback" not in bad.stderr


def test_a_vendor_that_does_not_answer_in_time_leaves_the_row_pending(settings, fake) -> None:
    """The per-row send goes straight to the client's pool (rectify.channels.http): its timeout still holds."""
    cfg = ChannelSettings.model_validate(channel_settings(fake.url, timeout=0.2, tries=2))
    rt = build_runtime(settings.model_copy(update={"channels": cfg}))
    try:
        queue(rt, row("a@u.example", "sms", "13800138000"))
        fake.delay = 0.5  # delivered, answered too late: the sender cannot know, so it tries again later
        report = dispatch(rt, AT_WORK)
        assert [(c, e) for _, c, _, e in report.pending] == [("sms", "sms: timeout (ReadTimeout)")]
        assert states(rt)[("sms", "a@u.example")] == ("pending", 1) and len(fake.to("sms")) == 2
    finally:
        fake.delay = 0.0
        rt.close()
