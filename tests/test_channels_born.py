"""IM/SMS rows born claimed (outbox.Born): the daily run's commit inserts today's IM/SMS rows already claimed by
the run, and its forked sender takes them over in one compare-and-set and sends them without claiming them
again. The claim's guarantees hold: one row per key, mail never claimed, only rows the run still holds are
taken, a channel that is down gives its rows back, rows whose holder died go to the next claim, a commit
that loses a race lists none. SQLite and PostgreSQL, the fake vendors on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from models import OutboxMessage, Person
from rectify.channels.dispatch import dispatch
from rectify.channels.settings import ChannelSettings
from rectify.mail import lease, outbox
from rectify.runtime import build_runtime
from rectify.services.daily import RunConflict, commit_day, issue_day_notices, plan_day, render_letters
from tests.support.fake_vendors import FakeVendors, channel_settings
from tests.test_channels_send import AT_WORK, row, states
from tests.test_daily_run import NOW, add, build_county

ROOT = Path(__file__).resolve().parent.parent
OWNER = "elsewhere|1|1|born"  # an owner on another host: trusted until its lease runs out


@pytest.fixture
def fake():
    server = FakeVendors().start()
    yield server
    server.stop()


def runtime(settings, fake, **changes):
    cfg = channel_settings(fake.url)
    cfg.update(changes)
    return build_runtime(settings.model_copy(update={"channels": ChannelSettings.model_validate(cfg)}))


@pytest.fixture
def crt(settings, fake):
    rt = runtime(settings, fake)
    yield rt
    rt.close()


def born_queue(rt, owner: str, *rows: outbox.Queued) -> outbox.Born:
    born = outbox.Born(owner, AT_WORK + lease.LEASE)
    with rt.sessions() as s, s.begin():
        outbox.enqueue(s, rows, AT_WORK, born)
    return born


def claims_of(rt) -> dict[tuple[str, str], tuple[str | None, object]]:
    with rt.sessions() as s:
        return {(r.channel, r.recipient): (r.claimed_by, r.lease_until) for r in s.scalars(select(OutboxMessage))}


def dead_owner() -> str:
    """The owner a sender on this host would have had, of a process that has exited."""
    out = subprocess.run([sys.executable, "-c", "from rectify.mail import lease; print(lease.new_owner())"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip()


def test_it_inserts_the_channel_rows_claimed_and_lists_them_mail_never(crt) -> None:
    letter = outbox.Queued("a@u.example", "daily", AT_WORK.date(), b"x", subject="letter")
    born = born_queue(crt, OWNER, letter, row("a@u.example", "wecom", "A"), row("a@u.example", "sms", "138"))

    got = states(crt)
    assert got[("mail", "a@u.example")] == ("pending", 0)
    assert got[("wecom", "a@u.example")] == got[("sms", "a@u.example")] == ("sending", 1)  # one attempt, as a claim
    owners = claims_of(crt)
    assert owners[("mail", "a@u.example")] == (None, None)
    assert owners[("wecom", "a@u.example")][0] == OWNER and owners[("sms", "a@u.example")][0] == OWNER
    assert sorted((c, to) for _, c, to, _, _ in born.rows) == [("sms", "a@u.example"), ("wecom", "a@u.example")]
    assert all(b'"to"' in message for _, _, _, message, _ in born.rows)

    again = born_queue(crt, OWNER, row("a@u.example", "wecom", "A"))  # the same key: nothing new, nothing listed
    assert again.rows == [] and len(states(crt)) == 3


def test_the_sender_sends_its_born_rows_once_without_claiming_them_again(crt, fake) -> None:
    to = [(f"p{i}@u.example", f"wx{i}", str(13800138000 + i)) for i in range(5)]
    born = born_queue(crt, OWNER, *(row(who, "wecom", wx) for who, wx, _ in to),
                      *(row(who, "sms", m) for who, _, m in to))

    report = dispatch(crt, AT_WORK, handed=born)

    assert report.sent == {"wecom": 5, "sms": 5}
    assert sorted(fake.to("wecom")) == [wx for _, wx, _ in to] and len(fake.to("sms")) == 5
    # Still the one attempt of the birth: a claim would have counted a second.
    assert set(states(crt).values()) == {("sent", 1)}
    senders = {o for o, _ in claims_of(crt).values()}
    assert len(senders) == 1 and OWNER not in senders  # taken over by the sender's own owner
    assert dispatch(crt, AT_WORK + timedelta(minutes=5)).sent == {}  # nothing left for anyone


def test_the_sender_takes_over_only_the_rows_the_run_still_holds(crt, fake) -> None:
    born = born_queue(crt, OWNER, *(row(f"p{i}@u.example", "wecom", f"wx{i}") for i in range(3)))
    with crt.sessions() as s, s.begin():  # the run's lease lapsed and another sender took one of them
        s.execute(update(OutboxMessage).where(OutboxMessage.recipient == "p1@u.example")
                  .values(claimed_by="other|1|1|x"))

    report = dispatch(crt, AT_WORK, handed=born)

    assert report.sent == {"wecom": 2} and sorted(fake.to("wecom")) == ["wx0", "wx2"]
    assert states(crt)[("wecom", "p1@u.example")] == ("sending", 1)  # the other's, untouched
    assert claims_of(crt)[("wecom", "p1@u.example")][0] == "other|1|1|x"


def test_born_rows_of_a_channel_that_is_down_go_back_pending(settings, fake) -> None:
    rt = runtime(settings, fake, wecom={**channel_settings(fake.url)["wecom"], "secret": "wrong-secret"})
    try:
        born = born_queue(rt, OWNER, *(row(f"p{i}@u.example", "wecom", f"wx{i}") for i in range(3)),
                          row("p0@u.example", "sms", "13800138000"))
        report = dispatch(rt, AT_WORK, handed=born, batch=2)  # one batch tried, one never

        assert report.down == {"wecom": "企业微信 gettoken: 40001 invalid credential"} and report.sent == {"sms": 1}
        # Given back as a claim's rows are: pending, the birth's attempt not counted, the reason shown.
        assert [states(rt)[("wecom", f"p{i}@u.example")] for i in range(3)] == [("pending", 0)] * 3
        assert [claims_of(rt)[("wecom", f"p{i}@u.example")] for i in range(3)] == [(None, None)] * 3
        assert sorted(to for _, c, to, _ in report.pending if c == "wecom") == [f"p{i}@u.example" for i in range(3)]
    finally:
        rt.close()


def test_rows_born_to_a_sender_that_died_before_starting_go_to_the_next_claim(crt, fake) -> None:
    born_queue(crt, dead_owner(), *(row(f"p{i}@u.example", "wecom", f"wx{i}") for i in range(3)))

    report = dispatch(crt, AT_WORK + timedelta(seconds=5))  # within their lease: a dead owner's are taken at once

    assert report.sent == {"wecom": 3} and sorted(fake.to("wecom")) == ["wx0", "wx1", "wx2"]  # each once
    assert set(states(crt).values()) == {("sent", 2)}


def test_a_live_senders_born_rows_are_not_taken_by_another(crt, fake) -> None:
    born_queue(crt, OWNER, row("a@u.example", "wecom", "A"))

    assert dispatch(crt, AT_WORK + timedelta(seconds=5)).sent == {}  # its lease runs
    assert dispatch(crt, AT_WORK + lease.LEASE + timedelta(seconds=1)).sent == {"wecom": 1}  # lapsed: taken
    assert fake.to("wecom") == ["A"]


def test_a_commit_that_loses_a_race_lists_no_born_rows(smtp_settings, fake) -> None:
    rt = runtime(smtp_settings, fake)
    try:
        county = build_county(rt)
        with rt.sessions() as s, s.begin():
            s.execute(update(Person).where(Person.id == county["fin_contact"]).values(wecom_userid="ZhangSan"))
        add(rt, county, "fin", date(2024, 1, 22))
        days = []
        for owner in ("here|1|1|theirs", "here|1|1|mine"):
            day = plan_day(rt, date(2024, 1, 31), NOW)
            day.notices = issue_day_notices(rt, day)
            day.born = outbox.Born(owner, NOW + lease.LEASE)
            days.append((day, render_letters(rt, day, day.letters)))
        (theirs, their_rows), (mine, my_rows) = days

        commit_day(rt, theirs, their_rows)
        with pytest.raises(RunConflict):
            commit_day(rt, mine, my_rows)

        assert [to for _, c, to, _, _ in theirs.born.rows] == ["zhang@fin.example"]
        assert mine.born.rows == []  # its insert was rolled back: nothing to hand a sender
        assert {o for (c, _), (o, _) in claims_of(rt).items() if c != "mail"} == {"here|1|1|theirs"}
    finally:
        rt.close()
