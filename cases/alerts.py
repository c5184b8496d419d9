"""Early warning (异常预警): one operator's appeals of one kind in a week well above what its previous 12 weeks lead
one to expect.

The method (docs/BULLETIN.md): for every operator × category (and operator × service type) the appeals received
in the last complete week (Monday to Sunday, Asia/Shanghai), x, are compared with the 12 weeks before it, s in
all. If the weekly count is steady (Poisson with the same rate in the 13 weeks, whatever the rate), then given
n = x + s the week's share is binomial: x ~ Bin(n, 1/13). An alert needs

- a significant excess: P(Bin(n, 1/13) >= x) < ALPHA (0.001), the exact conditional test of two Poisson rates,
  so a steady series raises a false alarm in at most 0.1 % of its weeks, at any rate (tests/test_alerts.py
  measures it on simulated weeks); and
- at least MIN_COUNT (10) appeals in the week, so a quiet operator going from 1 to 3 does not fire.

The expected count shown is s / 12. An acknowledged alert quiets its operator × category for four weeks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cases.db import db
from cases.models import Alert, Appeal, Operator, User, utcnow
from cases.trends import day_start_utc, monday, shanghai_today

ALPHA = 0.001
MIN_COUNT = 10
WEEKS_BEFORE = 12
QUIET = dt.timedelta(weeks=4)
DIMENSIONS = ("category", "service_type")


@dataclass(frozen=True)
class Finding:
    """A series whose week passed both tests."""

    dimension: str
    operator_id: int
    key: str
    week_start: dt.date
    count: int
    expected: Decimal
    p_value: float


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Bin(n, p), summed from the k-th term (log-space start, then the ratio of terms)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
    log_term += (n - k) * math.log1p(-p)
    term = math.exp(log_term)
    total, ratio = 0.0, p / (1 - p)
    for i in range(k, n + 1):
        total += term
        if term < total * 1e-17:
            break
        term *= (n - i) / (i + 1) * ratio
    return min(total, 1.0)


def significant(count: int, before: int, weeks_before: int = WEEKS_BEFORE) -> tuple[bool, float]:
    """Whether a week's count passes both tests against `before` appeals in the previous weeks; and its p-value."""
    p_value = binomial_tail(count, count + before, 1 / (weeks_before + 1))
    return count >= MIN_COUNT and p_value < ALPHA, p_value


def last_complete_week(as_of: dt.date) -> dt.date:
    """The Monday of the last complete week (Monday to Sunday) before `as_of`."""
    return monday(as_of) - dt.timedelta(weeks=1)


def _week_sql(postgres: bool):
    """The Monday (Asia/Shanghai) of an appeal's receipt, as SQL."""
    if postgres:
        local = Appeal.received_at + sa.text("interval '8 hours'")
        return sa.cast(sa.func.date_trunc("week", local), sa.Date)
    return sa.func.date(Appeal.received_at, "+8 hours", "weekday 0", "-6 days")


def weekly_counts(week_start: dt.date) -> list[tuple[dt.date, int, str, str, int]]:
    """(Monday, operator id, category, service type, appeals received) of the scanned week and the 12 before it."""
    first = week_start - dt.timedelta(weeks=WEEKS_BEFORE)
    week = _week_sql(db.engine.dialect.name == "postgresql")
    rows = db.session.execute(
        sa.select(week, Appeal.operator_id, Appeal.category, Appeal.service_type, sa.func.count())
        .where(
            Appeal.received_at >= day_start_utc(first),
            Appeal.received_at < day_start_utc(week_start + dt.timedelta(weeks=1)),
        )
        .group_by(week, Appeal.operator_id, Appeal.category, Appeal.service_type)
    )
    return [(_as_date(w), op, category, service, n) for w, op, category, service, n in rows]


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def scan(week_start: dt.date) -> list[Finding]:
    """Every operator × category and operator × service type whose week passes both tests, from one query."""
    week_total: dict[tuple[str, int, str], int] = {}
    before_total: dict[tuple[str, int, str], int] = {}
    for week, op, category, service, n in weekly_counts(week_start):
        target = week_total if week == week_start else before_total
        for dimension, key in (("category", category), ("service_type", service)):
            target[(dimension, op, key)] = target.get((dimension, op, key), 0) + n
    found = []
    for series, count in week_total.items():
        before = before_total.get(series, 0)
        alarm, p_value = significant(count, before)
        if alarm:
            dimension, op, key = series
            expected = (Decimal(before) / WEEKS_BEFORE).quantize(Decimal("0.01"))
            found.append(Finding(dimension, op, key, week_start, count, expected, p_value))
    return sorted(found, key=lambda f: (f.dimension, f.operator_id, f.key))


def _quiet(finding: Finding) -> bool:
    """Whether the series was acknowledged within the four weeks before the end of the scanned week."""
    week_end = day_start_utc(finding.week_start + dt.timedelta(weeks=1))
    return (
        db.session.scalar(
            sa.select(Alert.id)
            .where(
                Alert.dimension == finding.dimension,
                Alert.operator_id == finding.operator_id,
                Alert.key == finding.key,
                Alert.acknowledged_at.is_not(None),
                Alert.acknowledged_at >= week_end - QUIET,
            )
            .limit(1)
        )
        is not None
    )


def raise_alerts(week_start: dt.date, now: dt.datetime | None = None) -> list[tuple[Alert, bool]]:
    """Scan a week and store its alerts (added to the session, not committed): [(alert, new)].

    A week scanned again finds its stored alerts (not new); a series acknowledged within four weeks is skipped.
    """
    now = now or utcnow()
    out = []
    for f in scan(week_start):
        existing = db.session.scalar(
            sa.select(Alert).where(
                Alert.dimension == f.dimension,
                Alert.operator_id == f.operator_id,
                Alert.key == f.key,
                Alert.week_start == f.week_start,
            )
        )
        if existing is not None:
            out.append((existing, False))
            continue
        if _quiet(f):
            continue
        alert = Alert(
            dimension=f.dimension,
            operator_id=f.operator_id,
            key=f.key,
            week_start=f.week_start,
            count=f.count,
            expected=f.expected,
            p_value=f.p_value,
            raised_at=now,
            note="",
        )
        db.session.add(alert)
        out.append((alert, True))
    db.session.flush()
    return out


def scan_last_week(as_of: dt.date | None = None) -> list[tuple[Alert, bool]]:
    """Raise the alerts of the last complete week before `as_of` (today in Asia/Shanghai by default)."""
    return raise_alerts(last_complete_week(as_of or shanghai_today(utcnow())))


def as_json(alert: Alert, new: bool) -> dict[str, Any]:
    """An alert as the CLI prints it."""
    return {
        "id": alert.id,
        "operator": db.session.get(Operator, alert.operator_id).code,
        "dimension": alert.dimension,
        alert.dimension: alert.key,
        "week_start": alert.week_start.isoformat(),
        "count": alert.count,
        "expected": float(alert.expected),
        "p_value": alert.p_value,
        "new": new,
    }


def cases_behind(alert: Alert) -> list[Appeal]:
    """The appeals the alert counted: received in its week, against its operator, of its category or service type."""
    column = Appeal.category if alert.dimension == "category" else Appeal.service_type
    start = day_start_utc(alert.week_start)
    return list(
        db.session.scalars(
            sa.select(Appeal)
            .where(
                Appeal.operator_id == alert.operator_id,
                column == alert.key,
                Appeal.received_at >= start,
                Appeal.received_at < start + dt.timedelta(weeks=1),
            )
            .order_by(Appeal.received_at, Appeal.id)
        )
    )


class NoteRequired(ValueError):
    """An acknowledgement needs a note saying what was found or done."""


def acknowledge(alert: Alert, user: User, note: str, now: dt.datetime | None = None) -> bool:
    """Acknowledge an alert with a note; False when it was already acknowledged (nothing changes)."""
    note = (note or "").strip()
    if not note:
        raise NoteRequired("note")
    if alert.acknowledged_at is not None:
        return False
    alert.acknowledged_at = now or utcnow()
    alert.acknowledged_by_id = user.id
    alert.note = note[:5000]
    return True


def open_alerts() -> list[Alert]:
    """Alerts not acknowledged yet, newest week first."""
    return list(
        db.session.scalars(
            sa.select(Alert).where(Alert.acknowledged_at.is_(None)).order_by(Alert.week_start.desc(), Alert.id)
        )
    )


def recent_alerts(limit: int = 200) -> list[Alert]:
    """The latest alerts, open or acknowledged, newest week first."""
    return list(db.session.scalars(sa.select(Alert).order_by(Alert.week_start.desc(), Alert.id.desc()).limit(limit)))
