"""The staff and operator API: cases and lifecycle actions (bearer token; an operator sees only its referred cases)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app.api import bp, openapi
from app.api.paging import MAX_PER_PAGE, PAGE_PARAMETERS, PAGE_SCHEMA, Args, BadQuery, iso
from app.errors import error_response
from app.extensions import db
from cases import codes, followups, operator_view, pii, queues
from cases.models import Appeal, Operator, Settlement, User, utcnow
from workflows import engine, lifecycle


@bp.errorhandler(BadQuery)
def _bad_query(exc: BadQuery):
    """422 with a message per bad query-string value."""
    return error_response(422, _("请检查填写的内容。"), exc.errors)


def _operator_scope() -> int | None:
    """The operator a liaison's token is limited to; None for staff."""
    if g.user.role != lifecycle.OPERATOR:
        return None
    if g.user.operator_id is None:
        abort(404)
    return g.user.operator_id


def _visible_case(case_no: str) -> Appeal:
    """A case the caller may see, else 404 (an operator only the cases referred to it)."""
    scope = _operator_scope()
    if scope is None:
        appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    else:
        appeal = operator_view.appeal_for(scope, case_no)
    if appeal is None:
        abort(404)
    return appeal


def _deadlines(appeal: Appeal) -> list[dict[str, Any]]:
    """The case's clocks as JSON."""
    return [
        {
            "kind": d.kind,
            "due_at": iso(d.due_at),
            "stopped_at": iso(d.stopped_at),
            "paused": d.paused_at is not None,
            "met": d.met,
            "overdue": d.stopped_at is None and d.paused_at is None and d.due_at < utcnow(),
        }
        for d in appeal.deadlines
    ]


def case_summary(appeal: Appeal) -> dict[str, Any]:
    """A case as a list shows it: personal data always masked."""
    deadlines = _deadlines(appeal)
    return {
        "case_no": appeal.case_no,
        "status": appeal.status,
        "outcome": appeal.outcome,
        "version": appeal.version,
        "channel": appeal.channel,
        "operator": appeal.operator.code,
        "operator_name": appeal.operator.display_name,
        "category": appeal.category,
        "service_type": appeal.service_type,
        "service_number": pii.mask_phone(appeal.service_number),
        "complainant_name": pii.mask_name(appeal.complainant_name),
        "phone": pii.mask_phone(appeal.phone),
        "received_at": iso(appeal.received_at),
        "accepted_at": iso(appeal.accepted_at),
        "closed_at": iso(appeal.closed_at),
        "assignee": appeal.assignee.username if appeal.assignee else None,
        "overdue": appeal.overdue or any(d["overdue"] for d in deadlines),
        "deadlines": deadlines,
    }


def case_detail_body(appeal: Appeal, for_operator: bool) -> dict[str, Any]:
    """One case: the summary plus the matter, the referral, settlements and the events the caller may see."""
    body = case_summary(appeal)
    body.update(
        {
            "request": appeal.request,
            "facts": appeal.facts,
            "event_date": iso(appeal.event_date),
            "operator_complaint_date": iso(appeal.operator_complaint_date),
            "operator_ticket_no": appeal.operator_ticket_no,
            "allowed_actions": sorted({t.action for t in lifecycle.allowed_actions(appeal.status, g.user.role)}),
        }
    )
    if not for_operator:  # the operator never gets the ID number, email or address, even masked
        body.update(
            {
                "id_number": pii.mask_id_number(appeal.id_number),
                "address": pii.mask_address(appeal.address),
                "postcode": appeal.postcode,
                "email": pii.mask_email(appeal.email),
                "rejection_ground": appeal.rejection_ground,
            }
        )
    referral = operator_view.current_referral(appeal)
    body["referral"] = (
        {
            "operator": referral.operator.code,
            "referred_at": iso(referral.referred_at),
            "due_at": iso(referral.due_at),
            "replied_at": iso(referral.replied_at),
            "reply_text": referral.reply_text,
        }
        if referral
        else None
    )
    settlement = followups.agreed_settlement(appeal)
    body["settlement"] = (
        {
            "refund_amount": str(settlement.refund_amount),
            "service_restored": settlement.service_restored,
            "apology": settlement.apology,
            "other_terms": settlement.other_terms,
            "perform_by": iso(settlement.perform_by),
            "operator_reported_done_at": iso(settlement.operator_reported_done_at),
            "confirmed_at": iso(settlement.confirmed_at),
            "missed": settlement.missed,
            "terms_status": followups.terms_status(settlement),
        }
        if settlement
        else None
    )
    events = [e for e in appeal.events if not for_operator or not e.internal or e.actor_kind == "operator"]
    body["events"] = [
        {
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "at": iso(e.at),
            "actor_kind": e.actor_kind,
            "internal": e.internal,
            "details": e.details if not for_operator or e.actor_kind == "operator" or e.action == "refer" else {},
            "public_message": e.public_message,
        }
        for e in events
    ]
    return body


@bp.route("/cases")
def cases_list():
    """Cases with the staff queues' filters and pages; an operator token sees only the cases referred to its company."""
    args = Args()
    filters = queues.QueueFilters(
        state=args.choice("state", lifecycle.STATES),
        category=args.choice("category", codes.CATEGORIES),
        received_from=args.date("received_from"),
        received_to=args.date("received_to"),
        overdue=args.boolean("overdue"),
    )
    operator_code = args.text("operator", 32)
    assignee = args.text("assignee", 64)
    q = args.text("q", 100)
    if operator_code:
        filters.operator_id = db.session.scalar(sa.select(Operator.id).where(Operator.code == operator_code))
        if filters.operator_id is None:
            args.errors["operator"] = [_("请选择有效的运营商。")]
    if assignee == "none":
        filters.unassigned = True
    elif assignee:
        filters.assignee_id = db.session.scalar(sa.select(User.id).where(User.username == assignee))
        if filters.assignee_id is None and assignee.isdigit() and len(assignee) < 10:
            filters.assignee_id = db.session.scalar(sa.select(User.id).where(User.id == int(assignee)))
        if filters.assignee_id is None:
            args.errors["assignee"] = [_("没有这个用户。")]
    page = args.integer("page", 1, 1, 1_000_000)
    per_page = args.integer("per_page", 25, 1, MAX_PER_PAGE)
    args.check()
    where = queues.filter_conditions(filters)
    scope = _operator_scope()
    if scope is not None:
        where.append(operator_view.visible_to(scope))
    if q:
        where.append(
            sa.or_(
                Appeal.case_no.contains(q, autoescape=True),
                Appeal.service_number.contains(q, autoescape=True),
                Appeal.phone.contains(q, autoescape=True),
            )
        )
    select = sa.select(Appeal).where(*where).order_by(Appeal.received_at.desc(), Appeal.id.desc())
    result = queues.page_of(select, where, page, per_page, options=(selectinload(Appeal.deadlines),))
    paging = {
        "page": page,
        "per_page": per_page,
        "total": result.total,
        "total_exact": result.total_exact,
        "pages": -(-result.total // per_page),
    }
    return jsonify({"items": [case_summary(a) for a in result.items], **paging})


@bp.route("/cases/<case_no>")
def case_detail(case_no: str):
    """One case, personal data masked; an operator only its own (else 404)."""
    appeal = _visible_case(case_no)
    return jsonify(case_detail_body(appeal, for_operator=g.user.role == lifecycle.OPERATOR))


@bp.route("/cases/<case_no>/actions/<action>", methods=["POST"])
def case_action(case_no: str, action: str):
    """Take a lifecycle action: the action's fields and an optional `version` in a JSON body."""
    appeal = _visible_case(case_no)
    if action not in lifecycle.ACTIONS or action == "submit":
        abort(404)
    body = request.get_json(silent=True)
    if body is None and request.content_length:
        return error_response(422, _("请求体应为 JSON 对象。"), {"body": [_("请求体应为 JSON 对象。")]})
    body = body if body is not None else {}
    if not isinstance(body, dict):
        return error_response(422, _("请求体应为 JSON 对象。"), {"body": [_("请求体应为 JSON 对象。")]})
    version = body.pop("version", None)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        return error_response(422, _("请检查填写的内容。"), {"version": [_("应为整数。")]})
    data = {k: v for k, v in body.items() if isinstance(v, (str, int, float, bool)) or v is None}
    bad = sorted(set(body) - set(data))
    if bad:
        return error_response(422, _("请检查填写的内容。"), {k: [_("应为文本、数字或布尔值。")] for k in bad})
    data = {k: (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in data.items()}
    event = engine.perform(appeal, action, role=g.user.role, actor=g.user, data=data, expected_version=version)
    db.session.commit()
    return jsonify(
        {
            "case_no": appeal.case_no,
            "status": appeal.status,
            "outcome": appeal.outcome,
            "version": appeal.version,
            "event": {
                "action": event.action,
                "from_state": event.from_state,
                "to_state": event.to_state,
                "at": iso(event.at),
            },
        }
    )


def _json_object() -> dict[str, Any] | None:
    """The request's JSON object; an empty body counts as {}; None when it is something else."""
    body = request.get_json(silent=True)
    if body is None and not request.content_length:
        return {}
    return body if isinstance(body, dict) else None


def settlement_body(settlement: Settlement) -> dict[str, Any]:
    """A settlement row (proposed or agreed) as JSON."""
    return {
        "id": settlement.id,
        "proposed_by": settlement.proposed_by,
        "refund_amount": str(settlement.refund_amount),
        "service_restored": settlement.service_restored,
        "apology": settlement.apology,
        "other_terms": settlement.other_terms,
        "perform_by": iso(settlement.perform_by),
        "agreed_at": iso(settlement.agreed_at),
        "operator_reported_done_at": iso(settlement.operator_reported_done_at),
    }


@bp.route("/cases/<case_no>/settlement-proposal", methods=["POST"])
def case_settlement_proposal(case_no: str):
    """The operator proposes settlement terms to the mediator (checked like the terms of `settle`)."""
    appeal = _visible_case(case_no)
    body = _json_object()
    if body is None:
        return error_response(422, _("请求体应为 JSON 对象。"), {"body": [_("请求体应为 JSON 对象。")]})
    settle = lifecycle.transition_for("settle", appeal.status)
    if settle is None:
        return error_response(409, _("案件当前状态不能提出和解方案。"))
    data = {k: (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in body.items()}
    bad = sorted(k for k, v in data.items() if v is not None and not isinstance(v, (str, bool)))
    if bad:
        return error_response(422, _("请检查填写的内容。"), {k: [_("应为文本、数字或布尔值。")] for k in bad})
    terms = engine.clean_fields(settle, data)
    terms.pop("note", None)
    proposal = operator_view.propose_settlement(appeal, g.user, **terms)
    db.session.commit()
    return jsonify(settlement_body(proposal)), 201


@bp.route("/cases/<case_no>/terms-done", methods=["POST"])
def case_terms_done(case_no: str):
    """The operator reports the agreed terms carried out; a follow-up call confirms it."""
    appeal = _visible_case(case_no)
    body = _json_object()
    note = body.get("note") if body is not None else None
    if body is None or not (note is None or isinstance(note, str)) or len(note or "") > 2000:
        return error_response(422, _("请检查填写的内容。"), {"note": [_("应为文本（最多2000字）。")]})
    settlement = followups.agreed_settlement(appeal)
    if appeal.status != "settled" or settlement is None:
        return error_response(409, _("案件尚未和解，没有需要履行的条款。"))
    operator_view.report_terms_done(appeal, settlement, g.user, (note or "").strip())
    db.session.commit()
    return jsonify(settlement_body(settlement))


def _errors(*statuses: int) -> dict[str, Any]:
    """The documented error responses of an operation."""
    text = {
        401: "No valid bearer token",
        403: "Role not allowed",
        404: "Unknown case or action for the caller",
        409: "Action not allowed in this state, or stale version",
        422: "Invalid fields",
    }
    return {
        str(s): {
            "description": text[s],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in statuses
    }


_DEADLINE = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": list(lifecycle.DEADLINES)},
        "due_at": {"type": "string", "format": "date-time"},
        "stopped_at": {"type": ["string", "null"], "format": "date-time"},
        "paused": {"type": "boolean"},
        "met": {"type": ["boolean", "null"]},
        "overdue": {"type": "boolean"},
    },
}
openapi.SCHEMAS.update(
    {
        "CaseSummary": {
            "type": "object",
            "description": "A case with masked personal data.",
            "properties": {
                "case_no": {"type": "string", "example": "JL2026-000123"},
                "status": {"type": "string", "enum": list(lifecycle.STATES)},
                "outcome": {"type": ["string", "null"], "enum": [*codes.OUTCOMES, None]},
                "version": {"type": "integer"},
                "channel": {"type": "string", "enum": list(codes.INTAKE_CHANNELS)},
                "operator": {"type": "string", "description": "operator code"},
                "operator_name": {"type": "string"},
                "category": {"type": "string", "enum": list(codes.CATEGORIES)},
                "service_type": {"type": "string", "enum": list(codes.SERVICE_TYPES)},
                "service_number": {"type": "string", "description": "masked"},
                "complainant_name": {"type": "string", "description": "masked"},
                "phone": {"type": "string", "description": "masked"},
                "received_at": {"type": "string", "format": "date-time"},
                "accepted_at": {"type": ["string", "null"], "format": "date-time"},
                "closed_at": {"type": ["string", "null"], "format": "date-time"},
                "assignee": {"type": ["string", "null"]},
                "overdue": {"type": "boolean"},
                "deadlines": {"type": "array", "items": _DEADLINE},
            },
        },
        "CaseList": {
            "allOf": [
                PAGE_SCHEMA,
                {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/CaseSummary"}},
                        "total_exact": {
                            "type": "boolean",
                            "description": "false: more cases match than were counted; total is a lower bound",
                        },
                    },
                },
            ]
        },
        "CaseDetail": {
            "allOf": [
                {"$ref": "#/components/schemas/CaseSummary"},
                {
                    "type": "object",
                    "properties": {
                        "request": {"type": "string"},
                        "facts": {"type": "string"},
                        "allowed_actions": {"type": "array", "items": {"type": "string"}},
                        "id_number": {"type": "string", "description": "masked; staff only"},
                        "address": {"type": "string", "description": "masked; staff only"},
                        "email": {"type": "string", "description": "masked; staff only"},
                        "referral": {"type": ["object", "null"]},
                        "settlement": {"type": ["object", "null"]},
                        "events": {"type": "array", "items": {"type": "object"}},
                    },
                },
            ]
        },
        "ActionResult": {
            "type": "object",
            "properties": {
                "case_no": {"type": "string"},
                "status": {"type": "string"},
                "outcome": {"type": ["string", "null"]},
                "version": {"type": "integer"},
                "event": {"type": "object"},
            },
        },
    }
)

_BEARER = [{"bearer": []}]


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """An optional query parameter of the OpenAPI document."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


openapi.PATHS["/cases"] = {
    "get": {
        "summary": "List cases (staff: all; operator token: only the cases referred to its company)",
        "security": _BEARER,
        "parameters": [
            _query("state", {"type": "string", "enum": list(lifecycle.STATES)}),
            _query("operator", {"type": "string"}, "operator code"),
            _query("category", {"type": "string", "enum": list(codes.CATEGORIES)}),
            _query("received_from", {"type": "string", "format": "date"}, "Asia/Shanghai day, included"),
            _query("received_to", {"type": "string", "format": "date"}, "Asia/Shanghai day, included"),
            _query("assignee", {"type": "string"}, "username or user id; none = unassigned"),
            _query("overdue", {"type": "boolean"}),
            _query("q", {"type": "string"}, "part of the case number, service number or phone"),
            *PAGE_PARAMETERS,
        ],
        "responses": {
            "200": {
                "description": "A page of cases",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CaseList"}}},
            },
            **_errors(401, 403, 422),
        },
    }
}
openapi.PATHS["/cases/{case_no}"] = {
    "get": {
        "summary": "One case with masked personal data (an operator only its own)",
        "security": _BEARER,
        "parameters": [{"name": "case_no", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": {
                "description": "The case",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CaseDetail"}}},
            },
            **_errors(401, 403, 404),
        },
    }
}
openapi.PATHS["/cases/{case_no}/actions/{action}"] = {
    "post": {
        "summary": "Take a lifecycle action on a case",
        "security": _BEARER,
        "parameters": [
            {"name": "case_no", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "action",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": list(lifecycle.STAFF_ACTIONS)},
            },
        ],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "The action's fields (see the lifecycle table) and an optional version for optimistic locking.",
                        "properties": {"version": {"type": "integer"}},
                        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                    },
                    "example": {"text": "已退费", "version": 3},
                }
            },
        },
        "responses": {
            "200": {
                "description": "The new state and version",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionResult"}}},
            },
            **_errors(401, 403, 404, 409, 422),
        },
    }
}

_SETTLEMENT_INPUT = {
    "type": "object",
    "properties": {
        "refund_amount": {"type": ["string", "number"], "description": "yuan, e.g. 50.00"},
        "service_restored": {"type": "boolean"},
        "apology": {"type": "boolean"},
        "other_terms": {"type": "string"},
        "perform_by": {"type": "string", "format": "date"},
    },
    "required": ["perform_by"],
}
openapi.SCHEMAS["Settlement"] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "proposed_by": {"type": "string", "enum": ["staff", "operator"]},
        "refund_amount": {"type": "string"},
        "service_restored": {"type": "boolean"},
        "apology": {"type": "boolean"},
        "other_terms": {"type": "string"},
        "perform_by": {"type": ["string", "null"], "format": "date"},
        "agreed_at": {"type": ["string", "null"], "format": "date-time"},
        "operator_reported_done_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_CASE_NO = [{"name": "case_no", "in": "path", "required": True, "schema": {"type": "string"}}]
_SETTLEMENT_OK = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Settlement"}}}}
openapi.PATHS["/cases/{case_no}/settlement-proposal"] = {
    "post": {
        "summary": "The operator proposes settlement terms to the mediator (operator tokens only)",
        "security": _BEARER,
        "parameters": _CASE_NO,
        "requestBody": {"required": True, "content": {"application/json": {"schema": _SETTLEMENT_INPUT}}},
        "responses": {"201": {"description": "The proposal", **_SETTLEMENT_OK}, **_errors(401, 403, 404, 409, 422)},
    }
}
openapi.PATHS["/cases/{case_no}/terms-done"] = {
    "post": {
        "summary": "The operator reports the agreed terms carried out (operator tokens only)",
        "security": _BEARER,
        "parameters": _CASE_NO,
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object", "properties": {"note": {"type": "string"}}}}},
        },
        "responses": {
            "200": {"description": "The agreed settlement", **_SETTLEMENT_OK},
            **_errors(401, 403, 404, 409, 422),
        },
    }
}
