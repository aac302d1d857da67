"""A channel sender killed mid-send (issue 16): a real process sends 企业微信 and SMS rows to the fake vendors on
127.0.0.1, which deliver each message and answer it a moment later; the fake SIGKILLs the sender right after
a delivery. The re-run on the same host takes the dead sender's rows back at once. Counted at the fake:
everyone got each channel's message, and at most the channel's concurrency of them twice. SQLite and
PostgreSQL (the `db` fixture)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models import OutboxMessage
from rectify.channels.dispatch import dispatch
from rectify.channels.settings import ChannelSettings
from rectify.mail import outbox
from rectify.runtime import build_runtime
from tests.support.envvars import rectify_env
from tests.support.fake_vendors import FakeVendors, channel_settings
from tests.test_channels_send import AT_WORK, queue, row

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = 30
SENDER = textwrap.dedent("""
    from datetime import datetime
    from rectify.channels.dispatch import dispatch
    from rectify.runtime import build_runtime
    dispatch(build_runtime(), datetime.fromisoformat({now!r}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_killed_channel_sender_repeats_at_most_its_concurrency_per_channel(settings, tmp_path, concurrency) -> None:
    fake = FakeVendors().start()
    cfg = channel_settings(fake.url, concurrency=concurrency)
    del cfg["dingtalk"], cfg["robots"]
    rt = build_runtime(settings.model_copy(update={"channels": ChannelSettings.model_validate(cfg)}))
    proc: list[subprocess.Popen[bytes]] = []

    def kill(_delivery, count: int) -> None:
        if count == PEOPLE // 2 and proc:  # half-way through the two channels together
            os.kill(proc[0].pid, signal.SIGKILL)

    try:
        to = [(f"p{i:02d}@u.example", f"wx{i:02d}", str(13800138000 + i)) for i in range(PEOPLE)]
        queue(rt, *(row(who, "wecom", wx) for who, wx, _ in to), *(row(who, "sms", m) for who, _, m in to))
        fake.delay = 0.05  # delivered, then answered 50 ms later: the kill lands between send and record
        fake.after_delivery = kill
        env = {**os.environ, **rectify_env(settings), "RECTIFY_CHANNELS": json.dumps(cfg, ensure_ascii=False),
               "PYTHONPATH": str(ROOT)}
        env.pop("RECTIFY_CONFIG", None)
        proc.append(subprocess.Popen([sys.executable, "-c", SENDER.format(now=AT_WORK.isoformat())], cwd=tmp_path,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        assert proc[0].wait(120) == -signal.SIGKILL, proc[0].stderr.read().decode()[-2000:]
        with rt.sessions() as s:
            held = outbox.in_flight(s)
            left = Counter(s.scalars(select(OutboxMessage.state)))
        assert [h.owner.split("|")[1] for h in held] == [str(proc[0].pid)] and left["sending"] >= 1
        assert len(fake.deliveries) < 2 * PEOPLE  # killed mid-run, not after it
        fake.delay, fake.after_delivery = 0.0, None
        again = dispatch(rt, AT_WORK + timedelta(minutes=1))  # the re-run, same host: the dead owner's rows now
        with rt.sessions() as s:
            assert Counter(s.scalars(select(OutboxMessage.state))) == Counter({"sent": 2 * PEOPLE})
    finally:
        rt.close()
        fake.stop()
    assert not again.failed and not again.pending
    repeats = {}
    for channel, addresses in (("wecom", [wx for _, wx, _ in to]), ("sms", [m for _, _, m in to])):
        got = Counter(fake.to(channel))
        assert set(got) == set(addresses)  # nobody missed
        repeats[channel] = sum(n - 1 for n in got.values())
        assert repeats[channel] <= concurrency  # at most what was on the wire: one per channel at concurrency 1
    assert sum(repeats.values()) >= 1  # the delivery the kill followed was never recorded
