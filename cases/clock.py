"""The centre's local time: its time zone, "today", local midnight, and the conversions between the naive UTC
times the database keeps and local time.

The zone is the setting `TIME_ZONE` (Jilin's, Asia/Shanghai, by default), so another province's deployment
changes one setting. Outside an application (a script, a test of a pure function) the default applies.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIME_ZONE = "Asia/Shanghai"


def zone() -> ZoneInfo:
    """The centre's time zone, from the configuration."""
    name = current_app.config.get("TIME_ZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIME_ZONE)  # ZoneInfo keeps one instance a name


def to_local(utc_naive: dt.datetime) -> dt.datetime:
    """A stored (naive UTC, or aware) time as an aware local time."""
    if utc_naive.tzinfo is None:
        utc_naive = utc_naive.replace(tzinfo=dt.UTC)
    return utc_naive.astimezone(zone())


def to_utc(local_naive: dt.datetime) -> dt.datetime:
    """A naive local time (typed in a form) as naive UTC."""
    return local_naive.replace(tzinfo=zone()).astimezone(dt.UTC).replace(tzinfo=None)


def local_date(utc_naive: dt.datetime) -> dt.date:
    """The local calendar date of a stored (naive UTC) time."""
    return to_local(utc_naive).date()


def today(now: dt.datetime | None = None) -> dt.date:
    """Today's local date (of `now`, naive UTC, when given)."""
    return local_date(now) if now is not None else dt.datetime.now(zone()).date()


def local_time_utc(day: dt.date, time: dt.time) -> dt.datetime:
    """A local time of day on `day`, as naive UTC."""
    return dt.datetime.combine(day, time, tzinfo=zone()).astimezone(dt.UTC).replace(tzinfo=None)


def local_midnight_utc(day: dt.date) -> dt.datetime:
    """00:00 local time of `day`, as naive UTC."""
    return local_time_utc(day, dt.time(0, 0))
