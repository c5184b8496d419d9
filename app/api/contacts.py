"""The contacts API: consultations, visits and follow-up calls (staff tokens only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import g
from flask_babel import gettext as _

from app.api import bp
from app.api.models import Contact as ContactOut
from app.api.models import ContactInput, ContactList, ContactQuery, iso, paging
from app.api.spec import body, endpoint, query
from app.errors import error_response
from app.extensions import db
from cases import clock, codes, contacts, followups, pii, queues
from cases.models import Contact, Operator


def contact_body(contact: Contact) -> dict[str, Any]:
    """A contact with the caller's name and phone masked."""
    return {
        "id": contact.id,
        "channel": contact.channel,
        "at": iso(contact.at),
        "topic": contact.topic,
        "operator": contact.operator.code if contact.operator else None,
        "person_name": pii.mask_name(contact.person_name),
        "phone": pii.mask_phone(contact.phone),
        "question": contact.notes,
        "answer": contact.answer,
        "complained_to_operator": contact.complained_to_operator,
        "case_no": contact.appeal.case_no if contact.appeal else None,
        "callee": contact.callee or None,
        "reached": contact.reached,
        "satisfaction": contact.satisfaction,
        "next_call_due": iso(contact.next_call_due),
        "terms_carried_out": contact.terms_carried_out,
    }


@bp.route("/contacts")
@endpoint(query=ContactQuery, ok={200: ContactList}, auth="bearer", tags=("staff",))
def contacts_list():
    """List consultations, visits and follow-up calls, filtered and paginated (staff only)."""
    args: ContactQuery = query()
    operator_id = None
    if args.operator:
        operator_id = db.session.scalar(sa.select(Operator.id).where(Operator.code == args.operator.strip()))
        if operator_id is None:
            return error_response(422, _("请检查填写的内容。"), {"operator": [_("请选择有效的运营商。")]})
    select = contacts.contacts_query(
        channel=args.channel,
        date_from=args.date_from,
        date_to=args.date_to,
        operator_id=operator_id,
        channels=tuple(codes.CONTACT_CHANNELS),
    )
    page = queues.rows_page(select, args.page, args.per_page)
    return {"items": [contact_body(c) for c in page.items], **paging(page.page, page.per_page, page.total)}, 200


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A time as naive UTC; a time without offset is Asia/Shanghai, as the centre reads it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.zone())
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _text(value: str | None) -> str:
    return (value or "").strip()


@bp.route("/contacts", methods=["POST"])
@endpoint(body=ContactInput, ok={201: ContactOut}, auth="bearer", tags=("staff",))
def contacts_create():
    """Record a consultation, a visit, or a follow-up call on a case (clerk, mediator, supervisor)."""
    data: ContactInput = body()
    if data.channel == "callback":
        contact = followups.record_call(
            data.appeal,
            recorded_by=g.user,
            callee=data.callee,
            reached=bool(data.reached),
            notes=_text(data.notes),
            at=_utc(data.at),
            satisfaction=data.satisfaction,
            next_call_due=data.next_call_due,
            terms_carried_out=data.terms_carried_out,
        )
    else:
        contact = contacts.record_contact(
            channel=data.channel,
            recorded_by=g.user,
            at=_utc(data.at),
            topic=_text(data.topic),
            operator_id=data.operator_id,
            person_name=_text(data.person_name),
            phone=_text(data.phone),
            question=_text(data.question),
            answer=_text(data.answer),
            complained_to_operator=data.complained_to_operator,
        )
    db.session.commit()
    return contact_body(contact), 201
