"""Follow-up calls (回访呼出) on a case, and the check that the operator carried out the settlement terms."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from cases import clock
from cases.db import db
from cases.models import Appeal, CaseEvent, Contact, Settlement, User, utcnow

CALLEES = ("consumer", "operator")
# Terms status of a settled case, as the case page and the "履行未到位" list show it.
TERMS_PENDING, TERMS_CONFIRMED, TERMS_MISSED, TERMS_OVERDUE = "pending", "confirmed", "missed", "overdue"


def agreed_settlement(appeal: Appeal) -> Settlement | None:
    """The latest agreed settlement of a case (the one its `settle` action recorded)."""
    return db.session.scalar(
        sa.select(Settlement)
        .where(Settlement.appeal_id == appeal.id, Settlement.agreed_at.is_not(None))
        .order_by(Settlement.id.desc())
        .limit(1)
    )


def terms_status(settlement: Settlement | None, today: dt.date | None = None) -> str | None:
    """pending, confirmed, missed (a call found them not carried out) or overdue (perform_by passed unconfirmed)."""
    if settlement is None:
        return None
    if settlement.confirmed_at is not None:
        return TERMS_CONFIRMED
    if settlement.missed:
        return TERMS_MISSED
    if settlement.perform_by is not None and settlement.perform_by < (today or clock.today()):
        return TERMS_OVERDUE
    return TERMS_PENDING


def calls_of(appeal: Appeal) -> list[Contact]:
    """The follow-up calls of a case, newest first."""
    return list(
        db.session.scalars(
            sa.select(Contact)
            .where(Contact.appeal_id == appeal.id, Contact.channel == "callback")
            .order_by(Contact.at.desc(), Contact.id.desc())
        )
    )


def next_call_due(appeal: Appeal) -> dt.date | None:
    """The next call due, as the last recorded call set it."""
    return db.session.scalar(
        sa.select(Contact.next_call_due)
        .where(Contact.appeal_id == appeal.id, Contact.channel == "callback")
        .order_by(Contact.id.desc())
        .limit(1)
    )


def record_call(
    appeal: Appeal,
    *,
    recorded_by: User,
    callee: str,
    reached: bool,
    notes: str = "",
    at: dt.datetime | None = None,
    satisfaction: int | None = None,
    next_call_due: dt.date | None = None,
    terms_carried_out: bool | None = None,
) -> Contact:
    """Record a call on a case with its internal audit event; on a settled case the answer about the terms is kept."""
    if callee not in CALLEES:
        raise ValueError(f"unknown callee {callee}")
    now = utcnow()
    settlement = agreed_settlement(appeal) if appeal.status == "settled" else None
    if settlement is None or not reached:
        terms_carried_out = None
    call = Contact(
        channel="callback",
        at=at or now,
        appeal_id=appeal.id,
        operator_id=appeal.operator_id,
        person_name=appeal.complainant_name if callee == "consumer" else "",
        phone=appeal.phone if callee == "consumer" else "",
        notes=notes.strip(),
        callee=callee,
        reached=reached,
        satisfaction=satisfaction if callee == "consumer" and reached else None,
        next_call_due=next_call_due,
        terms_carried_out=terms_carried_out,
        recorded_by_id=recorded_by.id,
    )
    db.session.add(call)
    if settlement is not None and terms_carried_out is True:
        settlement.confirmed_at = now
        settlement.missed = False
    elif settlement is not None and terms_carried_out is False:
        settlement.missed = True
    db.session.flush()
    db.session.add(
        CaseEvent(
            appeal_id=appeal.id,
            action="callback",
            at=now,
            actor_id=recorded_by.id,
            actor_kind="staff",
            internal=True,
            details={
                "contact_id": call.id,
                "callee": callee,
                "reached": reached,
                "satisfaction": call.satisfaction,
                "terms_carried_out": terms_carried_out,
            },
        )
    )
    db.session.flush()
    return call


def unperformed_query(today: dt.date | None = None) -> sa.Select:
    """Settled cases whose terms a call found not carried out, whose perform_by date passed unconfirmed, or that the
    appellant reported not carried out (履行未到位)."""
    today = today or clock.today()
    latest = (
        sa.select(sa.func.max(Settlement.id))
        .where(Settlement.agreed_at.is_not(None))
        .group_by(Settlement.appeal_id)
        .scalar_subquery()
    )
    return (
        sa.select(Settlement)
        .join(Appeal, Appeal.id == Settlement.appeal_id)
        .where(
            Settlement.id.in_(latest),
            Appeal.status == "settled",
            Settlement.confirmed_at.is_(None),
            sa.or_(
                Settlement.missed.is_(True), Settlement.perform_by < today, Settlement.consumer_reported_at.is_not(None)
            ),
        )
        .order_by(Settlement.perform_by, Settlement.id)
    )


def calls_due_query(today: dt.date | None = None) -> sa.Select:
    """Open or settled cases whose latest follow-up call set a next call due by today, earliest first."""
    today = today or clock.today()
    latest = (
        sa.select(sa.func.max(Contact.id))
        .where(Contact.channel == "callback", Contact.appeal_id.is_not(None))
        .group_by(Contact.appeal_id)
        .scalar_subquery()
    )
    return (
        sa.select(Contact)
        .join(Appeal, Appeal.id == Contact.appeal_id)
        .where(
            Contact.id.in_(latest),
            Contact.next_call_due.is_not(None),
            Contact.next_call_due <= today,
            Appeal.closed_at.is_(None),
        )
        .order_by(Contact.next_call_due, Contact.id)
    )
