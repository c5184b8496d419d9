"""The supervisor dashboard's figures. Each figure is a condition on appeals: the dashboard counts it and its
link lists the same cases (`condition`), so a count and its list cannot disagree.

- `state`: the cases in a state;
- `overdue`: the open cases with a running clock of a kind past due;
- `assigned`: a person's open cases (assigned to them);
- `acted`: the cases a person acted on in the period (any lifecycle action, note, call, assignment they made),
  whoever the case is assigned to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from cases.db import db
from cases.models import Appeal, CaseEvent, Deadline, User, utcnow
from cases.states import CASEWORK, MEDIATOR, OPEN_STATES

FIGURES = ("state", "overdue", "assigned", "acted")


@dataclass(frozen=True)
class Period:
    """A span of time [start, end) in naive UTC, for the `acted` figure."""

    start: dt.datetime
    end: dt.datetime


def _late(kind: str | None, now: dt.datetime) -> sa.ColumnElement[bool]:
    """A running clock (of a kind) past due, on the appeal in the outer query."""
    where = [
        Deadline.appeal_id == Appeal.id,
        Deadline.stopped_at.is_(None),
        Deadline.paused_at.is_(None),
        Deadline.due_at < now,
    ]
    if kind is not None:
        where.append(Deadline.kind == kind)
    return sa.exists().where(*where)


def _acted(user_id: int, period: Period) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        CaseEvent.appeal_id == Appeal.id,
        CaseEvent.actor_id == user_id,
        CaseEvent.at >= period.start,
        CaseEvent.at < period.end,
    )


def condition(
    figure: str, value: str, period: Period | None = None, now: dt.datetime | None = None
) -> sa.ColumnElement[bool] | None:
    """The cases a figure counts, or None when the figure or its value is unknown."""
    now = now or utcnow()
    if figure == "state" and value:
        return Appeal.status == value
    if figure == "overdue" and value:
        return sa.and_(Appeal.status.in_(OPEN_STATES), _late(value, now))
    if figure in ("assigned", "acted") and value.isdigit() and len(value) < 10:
        if figure == "assigned":
            return sa.and_(Appeal.assignee_id == int(value), Appeal.status.in_(OPEN_STATES))
        if period is not None:
            return _acted(int(value), period)
    return None


def overdue_counts(now: dt.datetime | None = None) -> dict[str, int]:
    """How many open cases have a running clock of each kind past due (decision, operator_reply, consumer_reply)."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(Deadline.kind, sa.func.count(sa.distinct(Deadline.appeal_id)))
        .join(Appeal, Appeal.id == Deadline.appeal_id)
        .where(
            Appeal.status.in_(OPEN_STATES),
            Deadline.stopped_at.is_(None),
            Deadline.paused_at.is_(None),
            Deadline.due_at < now,
        )
        .group_by(Deadline.kind)
    )
    return {kind: count for kind, count in rows}


@dataclass
class Workload:
    """One person's open cases and the cases they acted on in the period."""

    user: User
    assigned: int
    acted: int


def workload(period: Period) -> list[Workload]:
    """Every active mediator, and anyone else of the casework roles who acted on a case in the period."""
    assigned = dict(
        db.session.execute(
            sa.select(Appeal.assignee_id, sa.func.count(Appeal.id))
            .where(Appeal.assignee_id.is_not(None), Appeal.status.in_(OPEN_STATES))
            .group_by(Appeal.assignee_id)
        ).all()
    )
    acted = dict(
        db.session.execute(
            sa.select(CaseEvent.actor_id, sa.func.count(sa.distinct(CaseEvent.appeal_id)))
            .where(CaseEvent.actor_id.is_not(None), CaseEvent.at >= period.start, CaseEvent.at < period.end)
            .group_by(CaseEvent.actor_id)
        ).all()
    )
    people = db.session.scalars(
        sa.select(User)
        .where(
            User.role.in_(sorted(CASEWORK)),
            sa.or_(sa.and_(User.role == MEDIATOR, User.active), User.id.in_(list(acted) or [-1])),
        )
        .order_by(User.full_name, User.id)
    )
    rows = [Workload(u, assigned.get(u.id, 0), acted.get(u.id, 0)) for u in people]
    return sorted(rows, key=lambda w: (-w.acted, -w.assigned, w.user.full_name))


def case_select(where: sa.ColumnElement[bool]) -> sa.Select:
    """The cases of a figure, nearest deadline first, then the newest."""
    return (
        sa.select(Appeal)
        .where(where)
        .order_by(Appeal.next_due_at.asc().nulls_last(), Appeal.received_at.desc(), Appeal.id.desc())
    )
