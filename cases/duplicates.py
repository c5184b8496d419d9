"""Possible repeat appeals (Art. 11(3)): the same service number against the same operator in the last 12 months."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from cases.db import db
from cases.models import Appeal, CaseEvent, User, utcnow

WINDOW = dt.timedelta(days=365)


def _related(other: type[Appeal], appeal_id, service_number, operator_id) -> sa.ColumnElement[bool]:
    """Same service number and operator, another appeal, received in the last 12 months."""
    return sa.and_(
        other.id != appeal_id,
        other.service_number == service_number,
        other.operator_id == operator_id,
        other.received_at >= utcnow() - WINDOW,
    )


def similar_appeals(appeal: Appeal) -> list[Appeal]:
    """Other appeals on the same service number and operator received in the last 12 months."""
    return list(
        db.session.scalars(
            sa.select(Appeal)
            .where(_related(Appeal, appeal.id, appeal.service_number, appeal.operator_id))
            .order_by(Appeal.received_at.desc())
        )
    )


def similar_counts(appeal_ids: list[int]) -> dict[int, int]:
    """For each listed appeal, how many similar appeals exist (one self-join query); absent ids have none."""
    if not appeal_ids:
        return {}
    other = aliased(Appeal)
    rows = db.session.execute(
        sa.select(Appeal.id, sa.func.count(other.id))
        .join(other, _related(other, Appeal.id, Appeal.service_number, Appeal.operator_id))
        .where(Appeal.id.in_(appeal_ids))
        .group_by(Appeal.id)
    )
    return {appeal_id: count for appeal_id, count in rows}


class NotSimilar(ValueError):
    """The chosen earlier appeal is not a possible repeat of this one."""


def mark_repeat(appeal: Appeal, original: Appeal, actor: User) -> CaseEvent:
    """Record that `appeal` repeats `original` (sets repeat_of, audited; the state does not change)."""
    if original.id == appeal.id or original.id not in {a.id for a in similar_appeals(appeal)}:
        raise NotSimilar(original.case_no)
    appeal.repeat_of_id = original.id
    event = CaseEvent(
        appeal=appeal,
        action="mark_repeat",
        from_state=appeal.status,
        to_state=appeal.status,
        at=utcnow(),
        actor_id=actor.id,
        actor_kind="staff",
        details={"repeat_of": original.case_no},
        internal=True,
    )
    db.session.add(event)
    return event
