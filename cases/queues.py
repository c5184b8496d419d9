"""The staff work queues: which appeals each queue holds, their filters, sorting and the counts.

Every queue is one SELECT (operator and assignee loaded in the same round trip); the deadline order and
the overdue test read the due times the engine keeps on the appeal row, so a page of 50 cases costs a fixed
number of queries, none of them over the clocks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from cases import clock
from cases.db import db
from cases.models import Appeal, utcnow
from cases.states import CLOSED_STATES, NEW_STATES, OPEN_STATES  # noqa: F401  (read here by the queues' users)

QUEUES = ("new", "mine", "waiting", "overdue", "closed")
SORTS = ("deadline", "-deadline", "received", "-received")
PER_PAGE = 50
COUNT_CAP = 2000  # lists count their rows exactly up to this many (see Page)


@dataclass
class QueueFilters:
    """The filters a queue page may apply; None means no filter."""

    state: str | None = None
    operator_id: int | None = None
    category: str | None = None
    received_from: dt.date | None = None  # Asia/Shanghai dates, inclusive
    received_to: dt.date | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    overdue: bool | None = None
    text: str | None = None  # part of the case number, service number or phone (the API's `q`)


def queue_states(name: str) -> tuple[str, ...]:
    """The states a queue can hold (the choices of its state filter)."""
    return {"new": NEW_STATES, "waiting": ("referred",), "closed": CLOSED_STATES}.get(name, OPEN_STATES)


def default_sort(name: str) -> str:
    """Open queues put the nearest deadline first; the closed queue the latest case."""
    return "-received" if name == "closed" else "deadline"


def overdue_condition(now: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    """A case is overdue when flagged, or when one of its running clocks is past due (kept on the row)."""
    now = now or utcnow()
    late = sa.and_(Appeal.running_due_at.is_not(None), Appeal.running_due_at < now)  # never NULL, so NOT works
    return sa.or_(Appeal.overdue.is_(True), late)


def queue_condition(name: str, user_id: int | None, now: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    """The WHERE clause of a queue; raises KeyError for an unknown queue."""
    if name == "new":
        return Appeal.status.in_(NEW_STATES)
    if name == "mine":
        return sa.and_(Appeal.assignee_id == user_id, Appeal.status.in_(OPEN_STATES))
    if name == "waiting":
        return Appeal.status == "referred"
    if name == "overdue":
        return sa.and_(Appeal.status.in_(OPEN_STATES), overdue_condition(now))
    if name == "closed":
        return Appeal.status.in_(CLOSED_STATES)
    raise KeyError(name)


def filter_conditions(f: QueueFilters, now: dt.datetime | None = None) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of the chosen filters (the staff queues and the API list share them)."""
    where = []
    if f.state:
        where.append(Appeal.status == f.state)
    if f.operator_id:
        where.append(Appeal.operator_id == f.operator_id)
    if f.category:
        where.append(Appeal.category == f.category)
    if f.received_from:
        where.append(Appeal.received_at >= clock.local_midnight_utc(f.received_from))
    if f.received_to:
        where.append(Appeal.received_at < clock.local_midnight_utc(f.received_to + dt.timedelta(days=1)))
    if f.unassigned:
        where.append(Appeal.assignee_id.is_(None))
    elif f.assignee_id is not None:
        where.append(Appeal.assignee_id == f.assignee_id)
    if f.overdue is True:  # only an open case can be overdue: naming the open states lets the status index serve it
        where.append(sa.and_(Appeal.status.in_(OPEN_STATES), overdue_condition(now)))
    elif f.overdue is False:
        where.append(sa.not_(sa.and_(Appeal.status.in_(OPEN_STATES), overdue_condition(now))))
    if f.text:
        where.append(
            sa.or_(
                Appeal.case_no.contains(f.text, autoescape=True),
                Appeal.service_number.contains(f.text, autoescape=True),
                Appeal.phone.contains(f.text, autoescape=True),
            )
        )
    return where


def queue_conditions(
    name: str, user_id: int | None, filters: QueueFilters | None = None, now: dt.datetime | None = None
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a filtered queue (for its page and its count)."""
    return [queue_condition(name, user_id, now), *filter_conditions(filters or QueueFilters(), now)]


def queue_select(
    name: str,
    user_id: int | None,
    filters: QueueFilters | None = None,
    sort: str | None = None,
    now: dt.datetime | None = None,
) -> sa.Select:
    """The appeals of a queue, filtered and sorted (deadline: earliest open clock first; cases without one last)."""
    query = sa.select(Appeal).where(*queue_conditions(name, user_id, filters, now))
    if sort not in sorts(name):
        sort = default_sort(name)
    if sort.lstrip("-") == "deadline":
        order = Appeal.next_due_at.desc() if sort.startswith("-") else Appeal.next_due_at.asc()
        query = query.order_by(order.nulls_last(), Appeal.id)
    else:
        order = Appeal.received_at.desc() if sort.startswith("-") else Appeal.received_at.asc()
        query = query.order_by(order, Appeal.id)
    return query


def sorts(name: str) -> tuple[str, ...]:
    """The orders a queue offers: closed cases have no running clock, so the closed queue sorts by date only."""
    return SORTS[2:] if name == "closed" else SORTS


@dataclass
class Page:
    """One page of a list and how many rows the whole list holds, counted exactly up to a cap.

    Counting a million closed cases (or every case mentioning 套餐) costs more than the page itself, so the
    count stops at `cap` rows: `total_exact` is False when there are more, and the page says "more than".
    It has the attributes of Flask-SQLAlchemy's Pagination that the list template uses.
    """

    items: list
    page: int
    per_page: int
    total: int
    total_exact: bool
    has_next: bool
    counted: bool = True  # False: total only says how many rows were seen so far ("at least")

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def pages(self) -> int | None:
        """The number of pages, when the total is exact."""
        return max(1, -(-self.total // self.per_page)) if self.total_exact else None


def rows_page(select: sa.Select, page: int, per_page: int | None = None) -> Page:
    """One page of any select (contacts, calls, settlements ...) with its exact count; past the end it is empty.

    Lists of appeals use `page_of`, which reads the page's ids first and counts up to a cap.
    """
    per_page = per_page or PER_PAGE
    total = db.session.scalar(sa.select(sa.func.count()).select_from(select.order_by(None).subquery())) or 0
    items = list(db.session.scalars(select.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, page, per_page, total, True, page * per_page < total)


def page_of(
    select: sa.Select,
    where: list[sa.ColumnElement[bool]] | None,
    page: int,
    per_page: int | None = None,
    cap: int | None = None,
    options: tuple = (),
    total: int | None = None,
) -> Page:
    """A page of a select of appeals and the count of the rows matching `where`, exact up to `cap`.

    The page's ids are chosen first and only their rows read with the operator and assignee (plus `options`),
    so a deep page joins 50 rows, not every row it skips. `where=None`: nothing is counted (see search.results);
    the total is what the pages so far have shown. `total`: the count up to the cap, when the caller has it.
    """
    cap = COUNT_CAP if cap is None else cap
    per_page = per_page or PER_PAGE
    offset = (page - 1) * per_page
    ids = list(db.session.scalars(select.with_only_columns(Appeal.id).limit(per_page + 1).offset(offset)))
    has_next = len(ids) > per_page
    ids = ids[:per_page]
    loaded = db.session.scalars(
        sa.select(Appeal)
        .options(joinedload(Appeal.operator), joinedload(Appeal.assignee), *options)
        .where(Appeal.id.in_(ids))
    ).unique()
    by_id = {a.id: a for a in loaded}
    items = [by_id[i] for i in ids if i in by_id]
    if where is None:
        seen = offset + len(items) + has_next
        return Page(items, page, per_page, seen, not has_next, has_next, counted=not has_next)
    total = count_up_to(where, cap) if total is None else total
    if total <= cap:
        return Page(items, page, per_page, total, True, has_next)
    return Page(items, page, per_page, max(cap, offset + len(items)), False, has_next)


def count_up_to(where: list[sa.ColumnElement[bool]], cap: int | None = None) -> int:
    """How many appeals match, counted up to cap + 1 (cap + 1 means "more than cap"; default COUNT_CAP)."""
    cap = COUNT_CAP if cap is None else cap
    counted = sa.select(sa.literal(1)).select_from(Appeal).where(*where).limit(cap + 1).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(counted)) or 0


def queue_counts(user_id: int | None, now: dt.datetime | None = None, cap: int | None = None) -> dict[str, int]:
    """How many cases each queue holds, each counted up to cap + 1 (the closed queue holds nearly every case)."""
    return {name: count_up_to([queue_condition(name, user_id, now)], cap) for name in QUEUES}


def state_counts() -> dict[str, int]:
    """How many cases are in each state."""
    rows = db.session.execute(sa.select(Appeal.status, sa.func.count()).group_by(Appeal.status))
    return {status: count for status, count in rows}
