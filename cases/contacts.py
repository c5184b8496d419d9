"""Phone consultations (电话咨询) and walk-in visits (现场来访): recording, listing, and turning one into an appeal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from cases import clock
from cases.db import db
from cases.models import Appeal, Contact, User

INTAKE_CHANNELS = ("phone_consultation", "visit")
# The channel an appeal gets when a consultation or a visit becomes one.
APPEAL_CHANNEL = {"phone_consultation": "phone", "visit": "visit"}
# Art. 13: a caller who has not complained to the operator first is told to do so; it stays a consultation.
TRIAGE_ANSWER = "先向运营商投诉"
# The dates the centre's records can carry; outside them a typed date is a typing error.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)


def plausible(day: dt.date | dt.datetime | None) -> bool:
    """Whether a typed date lies within the years the centre's records can carry."""
    if day is None:
        return True
    if isinstance(day, dt.datetime):
        day = day.date()
    return EARLIEST_DAY <= day <= LATEST_DAY


class ContactNotConvertible(Exception):
    """The contact cannot become an appeal (already one, a follow-up call, or Art. 13 triage says no)."""


def record_contact(
    *,
    channel: str,
    recorded_by: User | None,
    at: dt.datetime | None = None,
    topic: str = "",
    operator_id: int | None = None,
    person_name: str = "",
    phone: str = "",
    question: str = "",
    answer: str = "",
    complained_to_operator: bool | None = None,
) -> Contact:
    """Add a consultation or a visit to the session; the Art. 13 answer is filled in when the caller skipped the operator."""
    if channel not in INTAKE_CHANNELS:
        raise ValueError(f"not an intake channel: {channel}")
    answer = (answer or "").strip()
    if complained_to_operator is False and TRIAGE_ANSWER not in answer:
        answer = f"{TRIAGE_ANSWER}。{answer}" if answer else TRIAGE_ANSWER
    contact = Contact(
        channel=channel,
        at=at or dt.datetime.now(dt.UTC).replace(tzinfo=None),
        topic=topic.strip(),
        operator_id=operator_id,
        person_name=person_name.strip(),
        phone=phone.strip(),
        notes=question.strip(),
        answer=answer,
        complained_to_operator=complained_to_operator,
        recorded_by_id=recorded_by.id if recorded_by else None,
    )
    db.session.add(contact)
    db.session.flush()
    return contact


def contacts_query(
    *,
    channel: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    operator_id: int | None = None,
    channels: tuple[str, ...] = INTAKE_CHANNELS,
) -> sa.Select:
    """Consultations and visits, newest first; dates are Asia/Shanghai days, both ends included."""
    query = sa.select(Contact).where(Contact.channel.in_(channels))
    if channel:
        query = query.where(Contact.channel == channel)
    if date_from:
        query = query.where(Contact.at >= clock.local_midnight_utc(date_from))
    if date_to:
        query = query.where(Contact.at < clock.local_midnight_utc(date_to + dt.timedelta(days=1)))
    if operator_id:
        query = query.where(Contact.operator_id == operator_id)
    return query.order_by(Contact.at.desc(), Contact.id.desc())


def convertible(contact: Contact) -> bool:
    """Whether a contact may still become an appeal."""
    return (
        contact.channel in INTAKE_CHANNELS and contact.appeal_id is None and contact.complained_to_operator is not False
    )


def link_appeal(contact: Contact, appeal: Appeal) -> None:
    """Record the appeal a consultation or visit became; refused when it cannot become one."""
    if not convertible(contact):
        raise ContactNotConvertible(contact.id)
    contact.appeal = appeal


def prefill_from_contact(contact: Contact) -> dict[str, Any]:
    """The appeal fields a contact already knows: name, phone, operator, topic and question as facts."""
    facts = "\n".join(part for part in (contact.topic, contact.notes) if part)
    return {
        "complainant_name": contact.person_name,
        "phone": contact.phone,
        "operator": contact.operator.code if contact.operator else None,
        "facts": facts,
    }
