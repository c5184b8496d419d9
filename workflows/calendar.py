"""The official Chinese working-day calendar, and deadline arithmetic on it.

Holidays and the make-up working weekends (调休) come from, in this order:
1. the days an admin entered (`calendar_day`, the page 节假日安排): the State Council
   publishes the next year's schedule in the autumn, weeks or months before a
   `chinese-calendar` release covers it, and deadlines running into the new year
   must count its holidays from the day it is published;
2. the `chinese-calendar` package;
3. for a year neither covers, Monday to Friday, with a warning in the log, so a
   deadline is never missing.
Each process reads the entered days at most once a minute (`OVERRIDES_TTL`); the
process that changes them forgets its copy at once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Iterator
from functools import lru_cache

import chinese_calendar
import sqlalchemy as sa
from cachetools import TTLCache
from flask import has_app_context

from cases.clock import local_date, local_midnight_utc, local_time_utc  # noqa: F401  (read through calendar too)

OVERRIDES_TTL = 60.0  # seconds a process keeps the entered days before reading them again
log = logging.getLogger(__name__)
# By database URL: {day: working}; the timer is looked up on each call (a test moves the clock).
_overrides: TTLCache[str, dict[dt.date, bool]] = TTLCache(maxsize=8, ttl=OVERRIDES_TTL, timer=lambda: time.monotonic())


def is_working_day(day: dt.date, entered: dict[dt.date, bool] | None = None) -> bool:
    """True when the day is a working day on the official calendar (entered days first, then the package).

    `entered`: the entered days, when the caller looks at many days (read once, not once a day).
    """
    said = (entered_days() if entered is None else entered).get(day)
    return package_says_working(day) if said is None else said


@lru_cache(maxsize=4096)
def package_says_working(day: dt.date) -> bool:
    """The chinese-calendar package's answer; Monday to Friday for a year it does not cover."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        log.warning("no official calendar for %s; counting Monday-Friday", day.year)
        return day.weekday() < 5


def package_covers(year: int) -> bool:
    """Whether the installed chinese-calendar knows the year's holidays."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def years_to_enter(today: dt.date) -> list[int]:
    """The years whose holidays nobody knows yet, among this one and, from October, the next: neither the
    package covers them nor has an admin entered a day of them."""
    years = [today.year, today.year + 1] if today.month >= 10 else [today.year]
    entered = {day.year for day in entered_days()}
    return [y for y in years if y not in entered and not package_covers(y)]


def entered_days() -> dict[dt.date, bool]:
    """The days an admin entered ({day: working}), read at most once per OVERRIDES_TTL; none outside an app."""
    if not has_app_context():
        return {}
    from cases.db import db
    from cases.models import CalendarDay

    key = str(db.engine.url)
    days = _overrides.get(key)
    if days is None:
        with db.session.no_autoflush:  # called mid-action: a case being created must not be flushed half-made
            days = dict(db.session.execute(sa.select(CalendarDay.day, CalendarDay.working)).tuples().all())
        _overrides[key] = days
    return days


def forget_entered_days() -> None:
    """Read the entered days again on next use (after this process changed them)."""
    _overrides.clear()


def _working_days_after(start: dt.date) -> Iterator[dt.date]:
    """The working days after `start`, in order (the entered days read once)."""
    entered = entered_days()
    day = start
    while True:
        day += dt.timedelta(days=1)
        if is_working_day(day, entered):
            yield day


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start` (the start day itself is not counted)."""
    return start if n <= 0 else next(itertools.islice(_working_days_after(start), n - 1, None))


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    return 0 if end <= start else sum(1 for _ in itertools.takewhile(lambda d: d <= end, _working_days_after(start)))


def end_of_local_day(day: dt.date) -> dt.datetime:
    """The last second of `day` in local time, as naive UTC: when a deadline on that day runs out."""
    return local_time_utc(day, dt.time(23, 59, 59))


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
