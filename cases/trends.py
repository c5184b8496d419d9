"""Trends: accepted appeals by month (by week for spans under six months) per operator, category and service type;
the appeals per million users of each operator over the periods with subscriber counts; and received appeals of
the last 12 weeks against the same weeks a year earlier.

Buckets are Asia/Shanghai months and Monday-to-Sunday weeks (UTC+8, no daylight saving). A bucket counts the
cases accepted in it, by the operator the case was against at acceptance (as the period's figures do); a case
accepted twice in one bucket counts once there.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from cases import clock
from cases.bulletin import Period, per_million
from cases.db import db
from cases.models import Appeal, CaseEvent, Operator, SubscriberCount, TrendBucket, TrendState, utcnow
from cases.statistics import Executor, _between, _fmt, _on_postgres, compute, event_operator

WEEKLY_BELOW_DAYS = 180  # a span shorter than six months (the shortest half-year has 181 days) goes by week
DIMENSIONS = ("operator", "category", "service_type")
OFFSET = dt.timedelta(hours=8)  # Asia/Shanghai


def local_day(at_utc: dt.datetime) -> dt.date:
    """The Asia/Shanghai date of a stored UTC time."""
    return (at_utc + OFFSET).date()


def day_start_utc(day: dt.date) -> dt.datetime:
    """00:00 Asia/Shanghai of a day, as naive UTC."""
    return dt.datetime.combine(day, dt.time(0, 0)) - OFFSET


def monday(day: dt.date) -> dt.date:
    """The Monday of the week a day is in."""
    return day - dt.timedelta(days=day.weekday())


def unit_for(start: dt.datetime, end: dt.datetime) -> str:
    """month, or week for a span under six months."""
    return "week" if (end - start).days < WEEKLY_BELOW_DAYS else "month"


def buckets(start: dt.datetime, end: dt.datetime, unit: str) -> list[dt.date]:
    """The first days of the months or weeks (Mondays) that [start, end) touches, in order."""
    last = local_day(end - dt.timedelta(microseconds=1))
    days: list[dt.date] = []
    day = bucket_start(local_day(start), unit)
    while day <= last:
        days.append(day)
        day = next_bucket(day, unit)
    return days


def _bucket_sql(column, unit: str, postgres: bool):
    """The first day of the Asia/Shanghai month or week of a UTC time column, as SQL."""
    if postgres:
        local = column + sa.text("interval '8 hours'")
        return sa.cast(sa.func.date_trunc(unit, local), sa.Date)
    if unit == "week":
        return sa.func.date(column, "+8 hours", "weekday 0", "-6 days")
    return sa.func.date(column, "+8 hours", "start of month")


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def bucket_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the month or week (Monday) a day is in."""
    return monday(day) if unit == "week" else day.replace(day=1)


def next_bucket(day: dt.date, unit: str) -> dt.date:
    """The first day of the month or week after the one starting on `day`."""
    if unit == "week":
        return day + dt.timedelta(days=7)
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


Counts = dict[tuple[dt.date, int, str, str], int]


def _live_counts(start: dt.datetime, end: dt.datetime, unit: str, ex: Executor) -> Counts:
    """Cases accepted in [start, end) per (bucket, operator id at acceptance, category, service type), grouped live
    from the acceptances (the event index and the narrow appeal index, as the breakdown)."""
    bucket = _bucket_sql(CaseEvent.at, unit, _on_postgres(ex))
    keys = (bucket, event_operator(), Appeal.category, Appeal.service_type)
    events = (
        sa.select(*keys)
        .select_from(CaseEvent)
        .join(Appeal, Appeal.id == CaseEvent.appeal_id)
        .where(CaseEvent.action == "accept", _between(CaseEvent.at, start, end))
        .group_by(*keys)
    )
    counts: Counts = {}
    for day, *rest, n in ex.execute(events.add_columns(sa.func.count())):
        counts[(_as_date(day), *rest)] = n
    # Events are counted per group (a hash aggregate); a case accepted twice in a bucket was reopened in the range
    # (as in statistics.event_breakdown), so only those cases are counted as distinct cases.
    reopened = sa.select(CaseEvent.appeal_id).where(CaseEvent.action == "reopen", _between(CaseEvent.at, start, end))
    repeats = events.where(CaseEvent.appeal_id.in_(reopened)).add_columns(
        sa.func.count() - sa.func.count(sa.distinct(CaseEvent.appeal_id))
    )
    for day, *rest, n in ex.execute(repeats):
        counts[(_as_date(day), *rest)] -= n
    return counts


def first_acceptance_after(event_id: int, ex: Executor) -> dt.datetime | None:
    """When the earliest acceptance among the events recorded after `event_id` happened, or None.

    The events after the id are read first, by the primary key (a materialized CTE): asked in one go, PostgreSQL
    walks every acceptance ever made down the (action, at) index looking for a later id (450 ms at a million)."""
    later = (
        sa.select(CaseEvent.at, CaseEvent.action)
        .where(CaseEvent.id > event_id)
        .cte("later")
        .prefix_with("MATERIALIZED")
    )
    return ex.execute(sa.select(sa.func.min(later.c.at)).where(later.c.action == "accept")).scalar()


def _stored_span(start: dt.datetime, end: dt.datetime, unit: str, ex: Executor) -> tuple[dt.date, dt.date] | None:
    """The whole buckets of [start, end) that `trend_bucket` holds up to date, as [first day, end day), or None.

    Stored are the complete buckets before `trend_state.through`; a bucket with an acceptance recorded after the
    rollup (`event_id`: imported history) is counted live again, and so is every later one."""
    state = ex.execute(sa.select(TrendState.through, TrendState.event_id).where(TrendState.unit == unit)).first()
    if state is None:
        return None
    first = bucket_start(local_day(start), unit)
    if day_start_utc(first) < start:
        first = next_bucket(first, unit)  # the first bucket is cut by the range: counted live
    last = min(bucket_start(local_day(end), unit), _as_date(state.through))
    late = first_acceptance_after(state.event_id, ex)
    if late is not None:
        last = min(last, bucket_start(local_day(late), unit))
    return (first, last) if first < last else None


def bucket_counts(start: dt.datetime, end: dt.datetime, unit: str, ex: Executor | None = None) -> Counts:
    """Cases accepted in [start, end) per (bucket, operator id, category, service type): the whole buckets the
    rollup holds from `trend_bucket`, the rest (a cut first or last bucket, the current one, any bucket changed
    since the rollup) live; a bucket is never split between the two."""
    ex = ex or db.session
    span = _stored_span(start, end, unit, ex)
    if span is None:
        return _live_counts(start, end, unit, ex)
    first, last = span
    counts: Counts = {}
    if start < day_start_utc(first):
        counts.update(_live_counts(start, day_start_utc(first), unit, ex))
    stored = sa.select(
        TrendBucket.bucket,
        TrendBucket.operator_id,
        TrendBucket.category,
        TrendBucket.service_type,
        TrendBucket.accepted,
    ).where(TrendBucket.unit == unit, TrendBucket.bucket >= first, TrendBucket.bucket < last)
    for day, *rest, n in ex.execute(stored):
        counts[(_as_date(day), *rest)] = n
    if day_start_utc(last) < end:
        counts.update(_live_counts(day_start_utc(last), end, unit, ex))
    return counts


def refresh_buckets(now: dt.datetime | None = None) -> dict[str, int]:
    """Fill `trend_bucket` with every complete month and week not stored yet, and store again those that got an
    acceptance recorded since the last run (imported history); the caller commits. Returns rows written per unit."""
    today = local_day(now or utcnow())
    top = db.session.scalar(sa.select(sa.func.max(CaseEvent.id))) or 0  # read first: later events count as late
    written = {}
    for unit in ("month", "week"):
        through = bucket_start(today, unit)  # the current bucket is not complete: always counted live
        state = db.session.get(TrendState, unit)
        if state is None:
            oldest = db.session.scalar(sa.select(sa.func.min(CaseEvent.at)).where(CaseEvent.action == "accept"))
            since = bucket_start(local_day(oldest), unit) if oldest is not None else through
            state = TrendState(unit=unit, through=since, event_id=0)
            db.session.add(state)
        else:
            late = first_acceptance_after(state.event_id, db.session)
            since = min(state.through, bucket_start(local_day(late), unit)) if late is not None else state.through
        rows = []
        if since < through:
            db.session.execute(sa.delete(TrendBucket).where(TrendBucket.unit == unit, TrendBucket.bucket >= since))
            counts = _live_counts(day_start_utc(since), day_start_utc(through), unit, db.session)
            rows = [
                {"unit": unit, "bucket": day, "operator_id": op, "category": cat, "service_type": svc, "accepted": n}
                for (day, op, cat, svc), n in counts.items()
                if n
            ]
            if rows:
                db.session.execute(sa.insert(TrendBucket), rows)
        state.through, state.event_id, state.refreshed_at = max(through, state.through), top, utcnow()
        written[unit] = len(rows)
    db.session.flush()
    return written


def accepted_series(
    start: dt.datetime, end: dt.datetime, unit: str | None = None, ex: Executor | None = None
) -> dict[str, Any]:
    """Accepted cases per bucket, by operator (code), category and service type, and in all.

    {"unit", "buckets": [ISO dates], "total": [n...], "operator": {code: [n...]}, "category": {...},
    "service_type": {...}}: the whole buckets from the rollup (`trend_bucket`, `refresh_buckets`), the rest
    grouped live (`bucket_counts`).
    """
    ex = ex or db.session
    unit = unit or unit_for(start, end)
    days = buckets(start, end, unit)
    counts = bucket_counts(start, end, unit, ex)
    codes = dict(ex.execute(sa.select(Operator.id, Operator.code)).all())
    index = {day: i for i, day in enumerate(days)}
    series: dict[str, dict[str, list[int]]] = {d: defaultdict(lambda: [0] * len(days)) for d in DIMENSIONS}
    total = [0] * len(days)
    for (day, op_id, category, service_type), n in counts.items():
        i = index[day]
        total[i] += n
        for dimension, key in zip(DIMENSIONS, (codes.get(op_id, str(op_id)), category, service_type), strict=True):
            series[dimension][key][i] += n
    return {
        "unit": unit,
        "buckets": [d.isoformat() for d in days],
        "total": total,
        **{d: dict(sorted(series[d].items())) for d in DIMENSIONS},
    }


def per_million_series(periods: list[str], accepted: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Appeals per million users of each operator over periods: {"periods": [...], "operator": {code: [rate|None]}}.

    `accepted` holds {period: {operator code: accepted}}; the subscriber counts are the periods' own. A period
    without a count for an operator gives None for it.
    """
    counts: dict[tuple[str, str], int] = {
        (period, code): n
        for period, code, n in db.session.execute(
            sa.select(SubscriberCount.period, Operator.code, SubscriberCount.count)
            .join(Operator, Operator.id == SubscriberCount.operator_id)
            .where(SubscriberCount.period.in_(periods))
        )
    }
    operators = sorted({code for (_p, code) in counts})
    rates = {
        code: [_fmt(per_million(accepted.get(p, {}).get(code, 0), counts.get((p, code)))) for p in periods]
        for code in operators
    }
    return {"periods": periods, "operator": rates}


def periods_with_subscribers() -> list[str]:
    """Every period with at least one subscriber count, oldest first."""
    found = db.session.scalars(sa.select(SubscriberCount.period).distinct())
    return sorted(found, key=lambda code: (Period.parse(code).first_day, code))


def accepted_by_operator(period: Period, ex: Executor | None = None) -> dict[str, int]:
    """Cases accepted in a period per operator code (by the operator at acceptance)."""
    ex = ex or db.session
    operator_id = event_operator()
    rows = ex.execute(
        sa.select(Operator.code, sa.func.count(sa.distinct(CaseEvent.appeal_id)))
        .select_from(CaseEvent)
        .join(Appeal, Appeal.id == CaseEvent.appeal_id)
        .join(Operator, Operator.id == operator_id)
        .where(CaseEvent.action == "accept", _between(CaseEvent.at, period.start_utc, period.end_utc))
        .group_by(Operator.code)
    )
    return dict(rows.all())


def weeks_against_year_before(today: dt.date, weeks: int = 12) -> dict[str, Any]:
    """Appeals received in each of the last `weeks` complete weeks and in the same weeks 52 weeks earlier.

    {"weeks": [Monday ISO dates], "current": [n...], "year_before": [n...]}; the same weekdays a year apart.
    """
    end = monday(today)
    first = end - dt.timedelta(weeks=weeks)
    year = dt.timedelta(weeks=52)
    days = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    postgres = db.engine.dialect.name == "postgresql"
    bucket = _bucket_sql(Appeal.received_at, "week", postgres)
    found: dict[dt.date, int] = {}
    for lo in (first, first - year):
        rows = db.session.execute(
            sa.select(bucket, sa.func.count())
            .where(_between(Appeal.received_at, day_start_utc(lo), day_start_utc(lo + dt.timedelta(weeks=weeks))))
            .group_by(bucket)
        )
        found.update({_as_date(day): n for day, n in rows})
    return {
        "weeks": [d.isoformat() for d in days],
        "current": [found.get(d, 0) for d in days],
        "year_before": [found.get(d - year, 0) for d in days],
    }


def shanghai_today(now_utc: dt.datetime) -> dt.date:
    """Today's date in Asia/Shanghai."""
    return clock.local_date(now_utc)


def rollup_figures(period: Period) -> dict[str, Any]:
    """What a period's rollup stores: its figures (`statistics.compute`) and its trends, published alike."""
    figures = compute(period.start_utc, period.end_utc, period)
    figures["trends"] = accepted_series(period.start_utc, period.end_utc)
    return figures
