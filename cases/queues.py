"""The staff work queues: which appeals each queue holds, their filters, sorting and the counts.

Every queue is one SELECT (operator and assignee loaded in the same round trip, the
deadline sort a correlated subquery), so a page of 50 cases costs a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from cases.db import db
from cases.models import Appeal, Deadline, utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_STATES = ("received", "awaiting_materials")
CLOSED_STATES = ("closed", "rejected", "withdrawn")
QUEUES = ("new", "mine", "waiting", "overdue", "closed")
SORTS = ("deadline", "-deadline", "received", "-received")
PER_PAGE = 50


@dataclass
class QueueFilters:
    """The filters a queue page may apply; None means no filter."""

    state: str | None = None
    operator_id: int | None = None
    category: str | None = None
    received_from: dt.date | None = None  # Asia/Shanghai dates, inclusive
    received_to: dt.date | None = None
    assignee_id: int | None = None
    overdue: bool | None = None


def _local_midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI).astimezone(dt.UTC).replace(tzinfo=None)


def next_due() -> sa.ScalarSelect:
    """The earliest due time of a case's open clocks (a correlated subquery on Appeal)."""
    return (
        sa.select(sa.func.min(Deadline.due_at))
        .where(Deadline.appeal_id == Appeal.id, Deadline.stopped_at.is_(None))
        .correlate(Appeal)
        .scalar_subquery()
    )


def overdue_condition(now: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    """A case is overdue when flagged, or when one of its running clocks is past due."""
    now = now or utcnow()
    late_clock = sa.exists().where(
        Deadline.appeal_id == Appeal.id,
        Deadline.stopped_at.is_(None),
        Deadline.paused_at.is_(None),
        Deadline.due_at < now,
    )
    return sa.or_(Appeal.overdue.is_(True), late_clock)


def queue_condition(name: str, user_id: int | None, now: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    """The WHERE clause of a queue; raises KeyError for an unknown queue."""
    if name == "new":
        return Appeal.status.in_(NEW_STATES)
    if name == "mine":
        return sa.and_(Appeal.assignee_id == user_id, Appeal.status.not_in(CLOSED_STATES))
    if name == "waiting":
        return Appeal.status == "referred"
    if name == "overdue":
        return sa.and_(Appeal.status.not_in(CLOSED_STATES), overdue_condition(now))
    if name == "closed":
        return Appeal.status.in_(CLOSED_STATES)
    raise KeyError(name)


def apply_filters(query: sa.Select, f: QueueFilters, now: dt.datetime | None = None) -> sa.Select:
    """Narrow a select of appeals by the chosen filters."""
    if f.state:
        query = query.where(Appeal.status == f.state)
    if f.operator_id:
        query = query.where(Appeal.operator_id == f.operator_id)
    if f.category:
        query = query.where(Appeal.category == f.category)
    if f.received_from:
        query = query.where(Appeal.received_at >= _local_midnight_utc(f.received_from))
    if f.received_to:
        query = query.where(Appeal.received_at < _local_midnight_utc(f.received_to + dt.timedelta(days=1)))
    if f.assignee_id:
        query = query.where(Appeal.assignee_id == f.assignee_id)
    if f.overdue is True:
        query = query.where(overdue_condition(now))
    elif f.overdue is False:
        query = query.where(sa.not_(overdue_condition(now)))
    return query


def queue_select(
    name: str,
    user_id: int | None,
    filters: QueueFilters | None = None,
    sort: str = "deadline",
    now: dt.datetime | None = None,
) -> sa.Select:
    """The appeals of a queue, filtered and sorted (deadline: earliest open clock first; cases without one last)."""
    query = (
        sa.select(Appeal)
        .options(joinedload(Appeal.operator), joinedload(Appeal.assignee))
        .where(queue_condition(name, user_id, now))
    )
    query = apply_filters(query, filters or QueueFilters(), now)
    if sort not in SORTS:
        sort = "deadline"
    if sort.lstrip("-") == "deadline":
        due = next_due()
        order = due.desc() if sort.startswith("-") else due.asc()
        query = query.order_by(due.is_(None), order, Appeal.id)
    else:
        order = Appeal.received_at.desc() if sort.startswith("-") else Appeal.received_at.asc()
        query = query.order_by(order, Appeal.id)
    return query


def next_due_for(appeal_ids: list[int]) -> dict[int, dt.datetime]:
    """The earliest open due time of each listed case, in one query."""
    if not appeal_ids:
        return {}
    rows = db.session.execute(
        sa.select(Deadline.appeal_id, sa.func.min(Deadline.due_at))
        .where(Deadline.appeal_id.in_(appeal_ids), Deadline.stopped_at.is_(None))
        .group_by(Deadline.appeal_id)
    )
    return {appeal_id: due for appeal_id, due in rows}


def queue_counts(user_id: int | None, now: dt.datetime | None = None) -> dict[str, int]:
    """How many cases each queue holds, in one query."""
    now = now or utcnow()
    columns = [sa.func.sum(sa.case((queue_condition(name, user_id, now), 1), else_=0)).label(name) for name in QUEUES]
    row = db.session.execute(sa.select(*columns).select_from(Appeal)).one()
    return {name: int(row._mapping[name] or 0) for name in QUEUES}


def state_counts() -> dict[str, int]:
    """How many cases are in each state."""
    rows = db.session.execute(sa.select(Appeal.status, sa.func.count()).group_by(Appeal.status))
    return {status: count for status, count in rows}


def overdue_by_deadline(now: dt.datetime | None = None) -> dict[str, int]:
    """How many running clocks are past due, by kind (decision, operator_reply, consumer_reply)."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(Deadline.kind, sa.func.count())
        .where(Deadline.stopped_at.is_(None), Deadline.paused_at.is_(None), Deadline.due_at < now)
        .group_by(Deadline.kind)
    )
    return {kind: count for kind, count in rows}
