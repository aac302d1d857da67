"""The daily run with mail + 企业微信 + 钉钉 + SMS + group robots, on SQLite and PostgreSQL, against a real SMTP
server and the fake vendors on 127.0.0.1: one row per (recipient, day, kind, channel), sent once; a same-day
re-run sends nothing new; a crash resends at most the one in flight per channel; an outage leaves rows
pending; quiet hours; the daily cap."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from models import OutboxBody, OutboxMessage, Person
from rectify.channels.dispatch import dispatch
from rectify.channels.settings import ChannelSettings
from rectify.links import verify
from rectify.mail import outbox
from rectify.runtime import build_runtime
from rectify.services.daily import run_daily
from tests.support.fake_vendors import FakeVendors, channel_settings
from tests.test_daily_run import add, build_county

DAY = date(2024, 1, 31)  # a Wednesday
AT_WORK = datetime(2024, 1, 31, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def fake():
    server = FakeVendors().start()
    yield server
    server.stop()


def runtime(smtp_settings, fake, **overrides):
    cfg = ChannelSettings.model_validate(channel_settings(fake.url, **overrides))
    return build_runtime(smtp_settings.model_copy(update={"channels": cfg}))


@pytest.fixture
def crt(smtp_settings, fake):
    rt = runtime(smtp_settings, fake)
    yield rt
    rt.close()


def reach(rt, county, **by_key: dict[str, str]) -> None:
    with rt.sessions() as s, s.begin():
        for key, values in by_key.items():
            s.execute(update(Person).where(Person.id == county[key]).values(**values))


def rows(rt) -> dict[tuple[str, str], tuple[str, int]]:
    with rt.sessions() as s:
        return {(r.channel, r.recipient): (r.state, r.attempts) for r in s.scalars(select(OutboxMessage))}


@pytest.fixture
def county(crt):
    county = build_county(crt)
    reach(crt, county, fin_contact={"wecom_userid": "ZhangSan", "mobile": "13800138000"},
          fin_leader={"wecom_userid": "ghost", "mobile": "13900139000"}, edu_contact={"dingtalk_userid": "li4"},
          sup1={"wecom_userid": "SunDD"})
    return county


def test_it_sends_one_row_per_person_and_channel_and_nothing_new_on_a_rerun(crt, county, fake, smtp_sink) -> None:
    fake.invalid_users.add("ghost")  # the leader's userid is not in the corp: fails once, mail still goes
    late = add(crt, county, "fin", date(2024, 1, 22), problem="未公开[执法](http://x)信息")  # 督办
    add(crt, county, "edu", date(2024, 2, 4))  # 提醒: IM only, no SMS

    report = run_daily(crt, DAY, AT_WORK)

    assert report.sent == 5 and not report.failed  # mail: unchanged
    assert report.channels == {"dingtalk": 1, "sms": 2, "wecom": 3, "wecom_robot": 1}
    assert report.channels_sent == {"dingtalk": 1, "sms": 2, "wecom": 2, "wecom_robot": 1}
    assert report.channels_failed == [{"channel": "wecom", "to": "zhao@fin.example",
                                       "error": "企业微信 message/send: 81013 user & party & tag all invalid"}]
    assert sorted(fake.to("wecom")) == ["SunDD", "ZhangSan"] and fake.to("dingtalk") == ["li4"]
    assert sorted(fake.to("sms")) == ["13800138000", "13900139000"]
    assert len(fake.to("wecom_robot")) == 1

    card = next(d.body for d in fake.deliveries if d.to == "ZhangSan")["markdown"]["content"]
    assert "【整改督办】县财政局" in card and "督办1项" in card
    assert "未公开 执法 http://x 信息（已逾期7个工作日）" in card  # the user's markdown is neutralised
    link = card.rsplit("](", 1)[1].rstrip(")")
    token = urlsplit(link).path.rsplit("/", 1)[1]
    assert verify(crt.settings.secret, token, now=AT_WORK) == county["fin_contact"]
    sms = next(d.body for d in fake.deliveries if d.to == "13800138000")["content"]
    assert len(sms) <= 70 and sms.startswith("【整改督办】") and "/auth/" not in sms and "http://127.0.0.1:8400" in sms
    robot = fake.deliveries[[d.vendor for d in fake.deliveries].index("wecom_robot")].body["markdown"]["content"]
    assert "第一督导组" in robot and "县财政局" in robot

    before = (len(fake.deliveries), len(smtp_sink.received), len(rows(crt)))
    again = run_daily(crt, DAY, AT_WORK + timedelta(hours=2))
    assert again.channels == {} and sum(again.channels_sent.values()) == 0 and again.sent == 0
    assert (len(fake.deliveries), len(smtp_sink.received), len(rows(crt))) == before
    assert rows(crt)[("wecom", "zhao@fin.example")] == ("failed", 1)
    assert late  # the 督办 item is what reached SMS


def test_a_crash_between_send_and_record_resends_at_most_one_per_channel(crt, county, fake, smtp_sink) -> None:
    add(crt, county, "fin", date(2024, 1, 22))
    run_daily(crt, DAY, AT_WORK, send=False)  # queued, the process dies before delivering
    with crt.sessions() as s:  # … or rather: a worker took one row per channel, sent it, died before marking
        inflight = {}
        for ch in ("wecom", "sms"):
            inflight[ch] = outbox.claim(s, worker="dead", now=AT_WORK, limit=1, channels=(ch,))[0]
            inflight[ch] = (inflight[ch].recipient, json.loads(s.get(OutboxBody, inflight[ch].id).message))
    import asyncio

    import httpx

    from rectify.channels.dispatch import adapters

    async def send_in_flight() -> None:
        async with httpx.AsyncClient() as http:
            found = adapters(crt.settings.channels, http)
            for ch, (_, payload) in inflight.items():
                await found[ch].send(payload["to"], payload)

    asyncio.run(send_in_flight())
    run_daily(crt, DAY, AT_WORK + timedelta(minutes=1))  # the rest goes; the dead worker's rows wait
    run_daily(crt, DAY, AT_WORK + timedelta(minutes=15))  # its claims are stale: sent again, once
    run_daily(crt, DAY, AT_WORK + timedelta(minutes=30))
    for ch in ("wecom", "sms"):
        to = inflight[ch][1]["to"]
        assert fake.to(ch).count(to) == 2  # the one in flight, once more
        others = [t for t in fake.to(ch) if t != to]
        assert len(others) == len(set(others))  # everyone else exactly once
    assert set(st for st, _ in rows(crt).values()) == {"sent"}


def test_a_vendor_outage_leaves_rows_pending_and_never_blocks_mail(smtp_settings, fake, smtp_sink) -> None:
    rt = runtime(smtp_settings, fake)
    try:
        county = build_county(rt)
        reach(rt, county, fin_contact={"wecom_userid": "ZhangSan", "mobile": "13800138000"})
        add(rt, county, "fin", date(2024, 1, 22))
        fake.stop()  # every vendor unreachable
        report = run_daily(rt, DAY, AT_WORK)
        assert report.sent == 4 and len(smtp_sink.received) == 4  # the mail went
        assert set(report.channels_down) == {"wecom", "sms", "wecom_robot"}
        assert {k: v for k, v in rows(rt).items() if k[0] != "mail"} == {
            ("wecom", "zhang@fin.example"): ("pending", 0), ("sms", "zhang@fin.example"): ("pending", 0),
            ("wecom_robot", "robot:第一督导组"): ("pending", 0)}
        fake.start()
        retried = dispatch(rt, AT_WORK + timedelta(hours=1))  # what `rectify outbox retry` runs
        assert dict(retried.sent) == {"wecom": 1, "sms": 1, "wecom_robot": 1}
    finally:
        rt.close()


def test_quiet_hours_hold_im_and_sms_until_the_next_working_morning(crt, county, fake, smtp_sink) -> None:
    add(crt, county, "fin", date(2024, 1, 22))
    evening = datetime(2024, 2, 9, 11, 0, tzinfo=UTC)  # Friday 19:00; Feb 10-17 is the Spring Festival
    report = run_daily(crt, date(2024, 2, 9), evening)
    assert report.sent > 0 and fake.deliveries == []
    assert report.channels_deferred_until == "2024-02-18T08:30:00+08:00"  # the 调休 working Sunday
    assert {st for (ch, _), (st, _) in rows(crt).items() if ch != "mail"} == {"pending"}
    assert sum(dispatch(crt, datetime(2024, 2, 18, 0, 30, tzinfo=UTC)).sent.values()) == len(
        [k for k in rows(crt) if k[0] != "mail"])


def test_the_daily_cap_keeps_the_most_urgent_rows(smtp_settings, fake, smtp_sink) -> None:
    rt = runtime(smtp_settings, fake, daily_cap={"wecom": 1})
    try:
        county = build_county(rt)
        reach(rt, county, fin_contact={"wecom_userid": "ZhangSan"}, edu_contact={"wecom_userid": "Li4"})
        add(rt, county, "edu", date(2024, 2, 4))  # 提醒
        add(rt, county, "fin", date(2024, 1, 22))  # 督办: more urgent
        report = run_daily(rt, DAY, AT_WORK)
        assert report.channels["wecom"] == 1 and report.channels_capped == {"wecom": 1}
        assert fake.to("wecom") == ["ZhangSan"]
        with rt.sessions() as s:
            assert s.scalar(select(func.count()).where(OutboxMessage.channel == "mail")) == report.messages
    finally:
        rt.close()
