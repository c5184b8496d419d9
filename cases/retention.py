"""Personal data kept only as long as allowed (个人信息保护法): the retention job and the legal hold.

A closed case whose closing is more than `RETENTION_YEARS` (default 3) years ago, and that no supervisor
has put under legal hold, is anonymised: the appellant's name, phone, ID number, address, postcode and
e-mail are removed; phone numbers, ID numbers, e-mail addresses and the names known on the case found in
its free text (facts, request, notes and replies on the timeline, call notes, operator replies, settlement
terms, notifications, the payloads of webhook events kept for operators) are masked; its materials' content is deleted from storage, their rows keep size,
type and hash and say `removed = "retention"`. Consultations and visits not tied to a case are
anonymised likewise once they are as old.

No row is deleted and no counted column changes (states, times, operator, category, service type,
materials' rows), so every statistic and bulletin figure stays as it was. Each run is recorded as a
`RetentionRun` with its counts, never with the data it removed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import sqlalchemy as sa
from flask import current_app

from cases import pii, storage
from cases.db import db
from cases.models import (
    Appeal,
    CaseEvent,
    Contact,
    Material,
    Notification,
    Referral,
    RetentionRun,
    Settlement,
    User,
    WebhookEvent,
    utcnow,
)
from cases.states import CLOSED_STATES

log = logging.getLogger(__name__)

ANONYMISED_NAME = "（已匿名）"
REMOVED_RETENTION = "retention"
HOLD_REASON_MAX = 500
CONTACT_BATCH = 500  # consultations and visits anonymised a transaction

_ID = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}-?[0-9]{7,8}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_LABELLED_NAME = re.compile(r"(姓名|联系人|申诉人|用户)([:：]\s*)([\u4e00-\u9fff]{2,4})")


class LegalHoldRefused(Exception):
    """Only a supervisor sets or lifts a hold, and a hold needs a reason."""


def mask_text(text: str | None, names: tuple[str, ...] = ()) -> str:
    """Free text with phone numbers, ID numbers, e-mail addresses and the given names masked."""
    if not text:
        return text or ""
    text = _ID.sub(lambda m: pii.mask_id_number(m.group(0)), text)
    text = _MOBILE.sub(lambda m: pii.mask_phone(m.group(0)), text)
    text = _LANDLINE.sub(lambda m: pii.mask_phone(m.group(0)), text)
    text = _EMAIL.sub(lambda m: pii.mask_email(m.group(0)), text)
    text = _LABELLED_NAME.sub(lambda m: m.group(1) + m.group(2) + pii.mask_name(m.group(3)), text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, pii.mask_name(name))
    return text


def _mask_json(value: Any, names: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return mask_text(value, names)
    if isinstance(value, dict):
        return {k: _mask_json(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v, names) for v in value]
    return value


def cutoff(now: dt.datetime | None = None, years: int | None = None) -> dt.datetime:
    """The closing time before which a case's personal data is no longer kept."""
    now = now or utcnow()
    years = current_app.config.get("RETENTION_YEARS", 3) if years is None else years
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def expired_cases(before: dt.datetime) -> sa.Select:
    return sa.select(Appeal.id).where(
        Appeal.status.in_(CLOSED_STATES),
        Appeal.closed_at.is_not(None),
        Appeal.closed_at < before,
        Appeal.anonymised_at.is_(None),
        Appeal.legal_hold_reason == "",
    )


def expired_contacts(before: dt.datetime) -> sa.Select:
    """Consultations and visits not tied to a case, as old as an expired case."""
    return sa.select(Contact.id).where(
        Contact.appeal_id.is_(None), Contact.at < before, Contact.anonymised_at.is_(None)
    )


def _count(query: sa.Select) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)


def _anonymise_contact(contact: Contact, names: tuple[str, ...], now: dt.datetime) -> None:
    names = (*names, contact.person_name)
    contact.person_name = ""
    contact.phone = ""
    contact.topic = mask_text(contact.topic, names)
    contact.notes = mask_text(contact.notes, names)
    contact.answer = mask_text(contact.answer, names)
    contact.anonymised_at = now


def _anonymise_case(appeal: Appeal, now: dt.datetime) -> tuple[int, list[tuple[str, str]]]:
    """Remove and mask the case's personal data; returns its contacts changed and the objects to delete."""
    contacts = list(db.session.scalars(sa.select(Contact).where(Contact.appeal_id == appeal.id)))
    names = (appeal.complainant_name, *(c.person_name for c in contacts))
    appeal.complainant_name = ANONYMISED_NAME
    appeal.phone = ""
    appeal.id_number = ""
    appeal.address = ""
    appeal.postcode = ""
    appeal.email = ""
    appeal.service_number = pii.mask_phone(appeal.service_number)
    appeal.facts = mask_text(appeal.facts, names)
    appeal.request = mask_text(appeal.request, names)
    appeal.anonymised_at = now
    for event in appeal.events:
        event.public_message = mask_text(event.public_message, names)
        event.details = _mask_json(event.details or {}, names)
    for referral in db.session.scalars(sa.select(Referral).where(Referral.appeal_id == appeal.id)):
        referral.reply_text = mask_text(referral.reply_text, names)
    for settlement in db.session.scalars(sa.select(Settlement).where(Settlement.appeal_id == appeal.id)):
        settlement.other_terms = mask_text(settlement.other_terms, names)
    for note in db.session.scalars(sa.select(Notification).where(Notification.appeal_id == appeal.id)):
        note.recipient = ""
        note.subject = mask_text(note.subject, names)
        note.body = mask_text(note.body, names)
    for hook in db.session.scalars(sa.select(WebhookEvent).where(WebhookEvent.appeal_id == appeal.id)):
        hook.data = _anonymised_payload(hook.data or {}, appeal, names)
    for contact in contacts:
        _anonymise_contact(contact, names, now)
    objects = []
    for material in appeal.materials:
        material.description = mask_text(material.description, names)
        if material.stored_name:
            objects.append((material.storage, material.stored_name))
            material.stored_name = None
            material.storage = ""
            material.removed = REMOVED_RETENTION
    return len(contacts), objects


def _anonymised_payload(data: dict[str, Any], appeal: Appeal, names: tuple[str, ...]) -> dict[str, Any]:
    """A webhook event's stored payload (`cases.webhooks`) without the appellant: the name and phone of a new
    referral removed, the service number masked as on the case, the free text masked."""
    data = _mask_json(data, names)
    if isinstance(data.get("appellant"), dict):
        data["appellant"] = {"name": ANONYMISED_NAME, "phone": ""}
    case = data.get("case")
    if isinstance(case, dict) and case.get("service_number"):
        case["service_number"] = appeal.service_number  # masked above
    return data


def run(*, dry_run: bool = False, now: dt.datetime | None = None, actor: User | None = None) -> dict[str, Any]:
    """Anonymise every expired case and contact (or count them, with `dry_run`); returns the counts as JSON."""
    now = now or utcnow()
    before = cutoff(now)
    case_ids = list(db.session.scalars(expired_cases(before).order_by(Appeal.id)))
    contact_ids = list(db.session.scalars(expired_contacts(before).order_by(Contact.id)))
    counts = {"cases": len(case_ids), "contacts": 0, "materials": 0, "objects_not_deleted": 0}
    if dry_run:
        if case_ids:
            tied = sa.select(Contact.id).where(Contact.appeal_id.in_(case_ids))
            stored = sa.select(Material.id).where(Material.appeal_id.in_(case_ids), Material.stored_name.is_not(None))
            counts["contacts"] = _count(tied)
            counts["materials"] = _count(stored)
        counts["contacts"] += len(contact_ids)
    record = RetentionRun(started_at=now, dry_run=dry_run, cutoff=before, actor_id=actor.id if actor else None)
    db.session.add(record)
    db.session.commit()
    if not dry_run:
        for appeal_id in case_ids:
            appeal = db.session.get(Appeal, appeal_id)
            contacts, objects = _anonymise_case(appeal, now)
            db.session.commit()  # the rows first: a failed delete leaves an orphan object, never a row without data
            counts["contacts"] += contacts
            counts["materials"] += len(objects)
            for url, key in objects:
                try:
                    storage.storage_for(url).delete(key)
                except (OSError, ValueError):
                    log.exception("retention: could not delete an object of material content")
                    counts["objects_not_deleted"] += 1
        for start in range(0, len(contact_ids), CONTACT_BATCH):  # read a batch at once, commit it, go on
            batch = contact_ids[start : start + CONTACT_BATCH]
            for contact in db.session.scalars(sa.select(Contact).where(Contact.id.in_(batch))):
                _anonymise_contact(contact, (), now)
                counts["contacts"] += 1
            db.session.commit()
    record = db.session.get(RetentionRun, record.id)
    record.counts = counts
    record.finished_at = utcnow()
    db.session.commit()
    return {"dry_run": dry_run, "cutoff": before.isoformat() + "Z", "run_id": record.id, **counts}


def set_legal_hold(appeal: Appeal, user: User, reason: str) -> CaseEvent:
    """Put a case under legal hold (a supervisor, with a reason): the retention job skips it."""
    reason = (reason or "").strip()
    if user.role != "supervisor":
        raise LegalHoldRefused("role")
    if not reason or len(reason) > HOLD_REASON_MAX:
        raise LegalHoldRefused("reason")
    appeal.legal_hold_reason = reason
    appeal.legal_hold_at = utcnow()
    appeal.legal_hold_by_id = user.id
    return _hold_event(appeal, user, "legal_hold", {"reason": reason})


def lift_legal_hold(appeal: Appeal, user: User) -> CaseEvent:
    """Lift a case's legal hold (a supervisor)."""
    if user.role != "supervisor":
        raise LegalHoldRefused("role")
    appeal.legal_hold_reason = ""
    appeal.legal_hold_at = None
    appeal.legal_hold_by_id = None
    return _hold_event(appeal, user, "legal_hold_lifted", {})


def _hold_event(appeal: Appeal, user: User, action: str, details: dict) -> CaseEvent:
    event = CaseEvent(
        appeal=appeal,
        action=action,
        from_state=appeal.status,
        to_state=appeal.status,
        actor_id=user.id,
        actor_kind="staff",
        details=details,
        internal=True,
    )
    db.session.add(event)
    return event
