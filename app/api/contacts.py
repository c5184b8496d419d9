"""The contacts API: consultations, visits and follow-up calls (staff tokens only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import g, jsonify, request
from flask_babel import gettext as _

from app.api import bp, openapi
from app.api.paging import PAGE_PARAMETERS, PAGE_SCHEMA, Args, iso, page_of
from app.errors import error_response
from app.extensions import db
from cases import clock, codes, contacts, followups, pii
from cases.models import Appeal, Contact, Operator

PHONE_CHARS = set("0123456789+- ")


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
def contacts_list():
    """Consultations, visits and follow-up calls, filtered and paginated."""
    args = Args()
    channel = args.choice("channel", codes.CONTACT_CHANNELS)
    date_from = args.date("date_from")
    date_to = args.date("date_to")
    operator_code = args.text("operator", 32)
    operator_id = None
    if operator_code:
        operator_id = db.session.scalar(sa.select(Operator.id).where(Operator.code == operator_code))
        if operator_id is None:
            args.errors["operator"] = [_("请选择有效的运营商。")]
    query = contacts.contacts_query(
        channel=channel,
        date_from=date_from,
        date_to=date_to,
        operator_id=operator_id,
        channels=tuple(codes.CONTACT_CHANNELS),
    )
    rows, paging = page_of(query, args)
    return jsonify({"items": [contact_body(c) for c in rows], **paging})


class _Body:
    """Read a JSON body's fields, collecting a message per bad one."""

    def __init__(self, data: dict[str, Any]):
        """Wrap a decoded JSON object."""
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def text(self, name: str, max_len: int, required: bool = False) -> str:
        """A trimmed string field (empty string when absent)."""
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.errors[name] = [_("此项为必填项。")]
            return ""
        if not isinstance(value, str):
            self.errors[name] = [_("应为文本。")]
            return ""
        if len(value) > max_len:
            self.errors[name] = [_("内容过长（最多%(n)s字）。", n=max_len)]
            return ""
        return value.strip()

    def flag(self, name: str, required: bool = False) -> bool | None:
        """A true/false field, or None when absent."""
        value = self.data.get(name)
        if value is None:
            if required:
                self.errors[name] = [_("此项为必填项。")]
            return None
        if not isinstance(value, bool):
            self.errors[name] = [_("应为 true 或 false。")]
            return None
        return value

    def moment(self, name: str) -> dt.datetime | None:
        """An ISO 8601 time as naive UTC (no offset means Asia/Shanghai)."""
        value = self.data.get(name)
        if value is None:
            return None
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.errors[name] = [_("时间格式应为 ISO 8601，例如 2026-11-20T09:30:00+08:00。")]
            return None
        if not contacts.plausible(parsed):
            self.errors[name] = [_("日期应在 2000 年至 2099 年之间。")]
            return None
        if parsed.tzinfo is None:  # a time without offset is Asia/Shanghai, as the centre reads it
            parsed = parsed.replace(tzinfo=clock.zone())
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)

    def day(self, name: str) -> dt.date | None:
        """A YYYY-MM-DD date."""
        value = self.data.get(name)
        if value is None:
            return None
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            self.errors[name] = [_("日期格式应为 YYYY-MM-DD。")]
            return None
        if not contacts.plausible(day):
            self.errors[name] = [_("日期应在 2000 年至 2099 年之间。")]
            return None
        return day


def _callback(body: _Body) -> Contact | None:
    """A follow-up call on a case from the body, or None with `body.errors` set."""
    case_no = body.text("case_no", 20, required=True)
    callee = body.text("callee", 16, required=True)
    if callee and callee not in followups.CALLEES:
        body.errors["callee"] = [_("请选择有效的选项。")]
    reached = body.flag("reached", required=True)
    satisfaction = body.data.get("satisfaction")
    if satisfaction is not None and (
        isinstance(satisfaction, bool) or not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5
    ):
        body.errors["satisfaction"] = [_("满意度应为 1 到 5 的整数。")]
    elif satisfaction is not None and callee == "operator":
        body.errors["satisfaction"] = [_("满意度只在回访申诉人时填写。")]
    terms = body.flag("terms_carried_out")
    at = body.moment("at")
    due = body.day("next_call_due")
    notes = body.text("notes", 5000)
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no)) if case_no else None
    if case_no and appeal is None:
        body.errors["case_no"] = [_("没有这个案件。")]
    if appeal is not None and appeal.status == "settled" and reached and terms is None:
        body.errors["terms_carried_out"] = [_("请确认企业是否已履行和解条款。")]
    if body.errors:
        return None
    return followups.record_call(
        appeal,
        recorded_by=g.user,
        callee=callee,
        reached=bool(reached),
        notes=notes,
        at=at,
        satisfaction=satisfaction,
        next_call_due=due,
        terms_carried_out=terms,
    )


def _intake(body: _Body, channel: str) -> Contact | None:
    """A consultation or visit from the body, or None with `body.errors` set."""
    at = body.moment("at")
    topic = body.text("topic", 200, required=True)
    question = body.text("question", 5000, required=True)
    answer = body.text("answer", 5000)
    person_name = body.text("person_name", 100)
    phone = body.text("phone", 32)
    if phone and (not set(phone) <= PHONE_CHARS or not 5 <= len(phone) <= 20):
        body.errors["phone"] = [_("请输入有效的电话号码（数字，5到20位）。")]
    complained = body.flag("complained_to_operator")
    operator_code = body.text("operator", 32)
    operator_id = None
    if operator_code:
        operator_id = db.session.scalar(sa.select(Operator.id).where(Operator.code == operator_code))
        if operator_id is None:
            body.errors["operator"] = [_("请选择有效的运营商。")]
    if body.errors:
        return None
    return contacts.record_contact(
        channel=channel,
        recorded_by=g.user,
        at=at,
        topic=topic,
        operator_id=operator_id,
        person_name=person_name,
        phone=phone,
        question=question,
        answer=answer,
        complained_to_operator=complained,
    )


@bp.route("/contacts", methods=["POST"])
def contacts_create():
    """Record a consultation or visit, or a follow-up call on a case (channel callback + case_no)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error_response(422, _("请求体应为 JSON 对象。"), {"body": [_("请求体应为 JSON 对象。")]})
    body = _Body(data)
    channel = body.text("channel", 24, required=True)
    if channel and channel not in codes.CONTACT_CHANNELS:
        body.errors["channel"] = [_("请选择有效的选项。")]
    contact = None
    if not body.errors:
        contact = _callback(body) if channel == "callback" else _intake(body, channel)
    if contact is None:
        db.session.rollback()
        return error_response(422, _("请检查填写的内容。"), body.errors)
    db.session.commit()
    return jsonify(contact_body(contact)), 201


def _errors(*statuses: int) -> dict[str, Any]:
    """The documented error responses of an operation."""
    text = {401: "No valid bearer token", 403: "Staff only", 422: "Invalid fields"}
    return {
        str(s): {
            "description": text[s],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in statuses
    }


_CHANNELS = list(codes.CONTACT_CHANNELS)
openapi.SCHEMAS.update(
    {
        "Contact": {
            "type": "object",
            "description": "A consultation, visit or follow-up call; name and phone masked.",
            "properties": {
                "id": {"type": "integer"},
                "channel": {"type": "string", "enum": _CHANNELS},
                "at": {"type": "string", "format": "date-time"},
                "topic": {"type": "string"},
                "operator": {"type": ["string", "null"]},
                "person_name": {"type": "string"},
                "phone": {"type": "string"},
                "question": {"type": "string"},
                "answer": {"type": "string"},
                "complained_to_operator": {"type": ["boolean", "null"]},
                "case_no": {"type": ["string", "null"]},
                "callee": {"type": ["string", "null"], "enum": ["consumer", "operator", None]},
                "reached": {"type": ["boolean", "null"]},
                "satisfaction": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "next_call_due": {"type": ["string", "null"], "format": "date"},
                "terms_carried_out": {"type": ["boolean", "null"]},
            },
        },
        "ContactInput": {
            "type": "object",
            "required": ["channel"],
            "description": "phone_consultation/visit need topic and question; callback needs case_no, callee, reached.",
            "properties": {
                "channel": {"type": "string", "enum": _CHANNELS},
                "at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "default now; no offset = Asia/Shanghai",
                },
                "topic": {"type": "string", "maxLength": 200},
                "operator": {"type": "string", "description": "operator code"},
                "person_name": {"type": "string"},
                "phone": {"type": "string"},
                "question": {"type": "string"},
                "answer": {"type": "string"},
                "complained_to_operator": {"type": ["boolean", "null"], "description": "Art. 13 triage"},
                "case_no": {"type": "string"},
                "callee": {"type": "string", "enum": ["consumer", "operator"]},
                "reached": {"type": "boolean"},
                "satisfaction": {"type": "integer", "minimum": 1, "maximum": 5},
                "next_call_due": {"type": "string", "format": "date"},
                "terms_carried_out": {"type": "boolean"},
                "notes": {"type": "string"},
            },
        },
        "ContactList": {
            "allOf": [
                PAGE_SCHEMA,
                {
                    "type": "object",
                    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Contact"}}},
                },
            ]
        },
    }
)
openapi.PATHS["/contacts"] = {
    "get": {
        "summary": "List consultations, visits and follow-up calls (staff only)",
        "security": [{"bearer": []}],
        "parameters": [
            {"name": "channel", "in": "query", "schema": {"type": "string", "enum": _CHANNELS}},
            {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
            {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
            {"name": "operator", "in": "query", "schema": {"type": "string"}},
            *PAGE_PARAMETERS,
        ],
        "responses": {
            "200": {
                "description": "A page of contacts",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ContactList"}}},
            },
            **_errors(401, 403, 422),
        },
    },
    "post": {
        "summary": "Record a consultation, a visit, or a follow-up call on a case (clerk, mediator, supervisor)",
        "security": [{"bearer": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ContactInput"}}},
        },
        "responses": {
            "201": {
                "description": "The recorded contact",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Contact"}}},
            },
            **_errors(401, 403, 422),
        },
    },
}
