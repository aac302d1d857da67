"""Quiet hours: IM and SMS reach people only during working hours on working days (调休 included).

Pure: the calendar and the zone are inputs. A row queued (or retried) outside the window waits, pending,
for the next working morning; mail is not affected.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Calendar(Protocol):
    def is_working_day(self, day) -> bool: ...


def next_window(now: datetime, zone: str, calendar: Calendar, start: time, end: time,
                horizon: int = 60) -> datetime | None:
    """None when `now` is inside the sending window; else when the next window opens (aware, in `zone`)."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    if calendar.is_working_day(local.date()) and start <= local.time() < end:
        return None
    day = local.date()
    if calendar.is_working_day(day) and local.time() < start:
        return datetime.combine(day, start, tz)
    for _ in range(horizon):
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            return datetime.combine(day, start, tz)
    raise ValueError(f"no working day within {horizon} days of {local.date()}")
