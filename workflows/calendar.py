"""The official Chinese working-day calendar, and deadline arithmetic on it.

Holidays and the make-up working weekends (调休) come from the `chinese-calendar`
package. For a year the package does not cover yet (it is updated each December
when the State Council publishes the next year's schedule), Monday to Friday
count as working days and a warning is logged, so a deadline is never missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
log = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    """True when the day is a working day on the official calendar."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        log.warning("no official calendar for %s; counting Monday-Friday", day.year)
        return day.weekday() < 5


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start` (the start day itself is not counted)."""
    day = start
    counted = 0
    while counted < n:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def local_date(utc_naive: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of a stored (naive UTC) time."""
    return utc_naive.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).date()


def end_of_local_day(day: dt.date) -> dt.datetime:
    """23:59:59 Asia/Shanghai of `day`, as naive UTC."""
    local = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=SHANGHAI)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def local_midnight_utc(day: dt.date) -> dt.datetime:
    """00:00 Asia/Shanghai of `day`, as naive UTC."""
    local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def due_after(start_utc: dt.datetime, amount: int, working: bool) -> dt.datetime:
    """The end of the day that is `amount` (working) days after the start's local date."""
    start = local_date(start_utc)
    if working:
        day = add_working_days(start, amount)
    else:
        day = start + dt.timedelta(days=amount)
    return end_of_local_day(day)


def extend(due_utc: dt.datetime, paused_from: dt.datetime, resumed_at: dt.datetime, working: bool) -> dt.datetime:
    """Move a due time later by the (working) days a clock was paused."""
    a, b = local_date(paused_from), local_date(resumed_at)
    days = working_days_between(a, b) if working else max((b - a).days, 0)
    if days == 0:
        return due_utc
    due_day = local_date(due_utc)
    new_day = add_working_days(due_day, days) if working else due_day + dt.timedelta(days=days)
    return end_of_local_day(new_day)
