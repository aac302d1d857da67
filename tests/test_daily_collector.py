"""The daily run builds its day with the cycle collector paused and sends with the day frozen out of the
collections (rectify.memory), and leaves the collector as it found it, also when a step fails."""

from __future__ import annotations

import dataclasses
import gc
from datetime import date

import pytest

from rectify.services.daily import PLAIN, run_daily
from tests.test_daily_run import DAY, NOW, add, build_county, mail_rt  # noqa: F401  (mail_rt: a fixture)


def _state() -> tuple[bool, bool]:
    return gc.isenabled(), gc.get_freeze_count() > 0


def test_it_builds_the_day_without_the_collector_and_sends_with_the_day_frozen(mail_rt, smtp_sink) -> None:  # noqa: F811
    county = build_county(mail_rt)
    for k in range(4):
        add(mail_rt, county, ("fin", "edu")[k % 2], date(2024, 1, 16 + k), problem=f"问题{k}")
    seen: dict[str, tuple[bool, bool]] = {}

    def step(name, real):
        def observed(*args):
            seen[name] = _state()
            return real(*args)
        return observed

    steps = dataclasses.replace(PLAIN, plan=step("plan", PLAIN.plan), issue=step("issue", PLAIN.issue),
                                commit=step("commit", PLAIN.commit), deliver=step("deliver", PLAIN.deliver))
    report = run_daily(mail_rt, DAY, NOW, steps=steps)
    assert report.sent == len(smtp_sink.received) > 0
    assert seen["plan"] == seen["issue"] == seen["commit"] == (False, False)  # building: no collections
    assert seen["deliver"] == (True, True)  # sending: collections, the built day frozen out of them
    assert _state() == (True, False)


def test_it_puts_the_collector_back_when_the_commit_fails(mail_rt, smtp_sink) -> None:  # noqa: F811
    county = build_county(mail_rt)
    add(mail_rt, county, "fin", date(2024, 1, 16), problem="逾期")

    def commit(rt, day, queued):
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        run_daily(mail_rt, DAY, NOW, steps=dataclasses.replace(PLAIN, commit=commit))
    assert _state() == (True, False)
    assert smtp_sink.received == []
