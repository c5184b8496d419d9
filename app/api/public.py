"""The consumer's API: reference lists, filing, tracking, materials, withdrawal.

The same rules as the portal: fields through `cases.intake`, eligibility through
`cases.eligibility`, files through `cases.materials`. A case is reached with its
number and the `X-Access-Code` header; a wrong code and an unknown number both get 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import bp, openapi
from app.errors import error_response
from app.extensions import db
from app.i18n import is_english
from app.public import casefile, limits
from cases import codes, eligibility, intake, materials, reference, tracking
from cases.materials import MaterialRejected
from cases.models import Appeal
from cases.validation import FieldError, clean_text
from workflows import calendar
from workflows.lifecycle import OPEN_STATES

ELIGIBILITY_KEYS = (
    "complained_to_operator",
    "operator_replied",
    "satisfied",
    "court_or_arbitration",
    "settled_and_performed",
)


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return _iso(value)


def _lang() -> str:
    return "en" if is_english() else "zh"


JSON_MAX_BYTES = 256 * 1024  # an appeal's text is at most a few tens of KB, even \u-escaped


def _json_body() -> dict[str, Any] | None:
    if (request.content_length or 0) > JSON_MAX_BYTES:
        abort(413)
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _case_from_headers(case_no: str) -> Appeal | None:
    appeal = tracking.find_case(case_no, request.headers.get("X-Access-Code", ""))
    if appeal is None:
        limits.mark_failed_lookup()
    return appeal


def _not_found():
    return error_response(404, _("案件编号或查询码不正确。"))


def _eligibility_answers(raw: Any) -> tuple[eligibility.Answers | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [_("请提供申诉条件的回答（eligibility 对象）。")]
    values: dict[str, bool | None] = {}
    problems = []
    for key in ELIGIBILITY_KEYS:
        value = raw.get(key)
        if value is not None and not isinstance(value, bool):
            problems.append(_("%(key)s 应为 true 或 false。", key=key))
            value = None
        values[key] = value
    return eligibility.Answers(**values), problems


@bp.route("/operators")
@limits.reference_limit
def public_operators():
    """The operators an appeal can be filed against."""
    return jsonify(
        [
            {
                "code": o.code,
                "name": o.name,
                "short_name": o.short_name,
                "operator_type": o.operator_type,
                "operator_type_name_zh": codes.name("operator_type", o.operator_type, "zh"),
                "operator_type_name_en": codes.name("operator_type", o.operator_type, "en"),
            }
            for o in reference.active_operators()
        ]
    )


@bp.route("/categories")
@limits.reference_limit
def public_categories():
    """The appeal categories (and the service types an appeal names)."""
    return jsonify(
        {
            "categories": [
                {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en} for c in reference.active_codes("category")
            ],
            "service_types": [
                {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en}
                for c in reference.active_codes("service_type")
            ],
        }
    )


@bp.route("/appeals", methods=["POST"])
@limits.filing_limit
def public_file_appeal():
    """File an appeal: the form's fields plus the eligibility answers; 201 with the case number and access code."""
    body = _json_body()
    if body is None:
        return error_response(400, _("请求体应为 JSON 对象。"))
    today = casefile.today_local()
    answers, problems = _eligibility_answers(body.get("eligibility"))
    try:
        cleaned = intake.clean_appeal(body, today)
    except intake.IntakeErrors as exc:
        errors = dict(exc.errors)
        if problems:
            errors["eligibility"] = problems
        return error_response(422, _("请检查填写的内容。"), errors)
    if problems or answers is None:
        return error_response(422, _("请检查填写的内容。"), {"eligibility": problems})
    try:
        intake.check_eligibility(answers, cleaned, today)
    except intake.IntakeErrors as exc:
        if exc.stop is None:
            return error_response(422, _("请检查填写的内容。"), exc.errors)
        eligibility.record_stop(exc.stop.reason, today)
        db.session.commit()
        body = {
            "error": f"{exc.stop.advice}（{exc.stop.article}）",
            "errors": exc.errors,
            "ground": exc.stop.ground,
            "article": exc.stop.article,
        }
        return jsonify(body), 422
    filed = casefile.submit_appeal(cleaned)
    decision = filed.appeal.deadline("decision")
    answer = {  # read before the commit, which expires the objects (no reload queries for the answer)
        "case_no": filed.appeal.case_no,
        "access_code": filed.access_code,
        "status": filed.appeal.status,
        "decision_due": _iso(decision.due_at) if decision else None,
        "decision_due_date": calendar.local_date(decision.due_at).isoformat() if decision else None,
    }
    db.session.commit()
    resp = jsonify(answer)
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.public_appeal", case_no=answer["case_no"])
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/appeals/<case_no>")
@limits.lookup_limit
def public_appeal(case_no: str):
    """The case as its appellant sees it: state, public timeline, deadlines, materials."""
    appeal = _case_from_headers(case_no)
    if appeal is None:
        return _not_found()
    resp = jsonify(_jsonable(casefile.case_view(appeal, _lang())))
    resp.headers["Cache-Control"] = "no-store"
    return resp


MULTIPART_OVERHEAD = 64 * 1024  # the part's headers and boundaries around one file


def _file_refused(exc: MaterialRejected):
    """A refused file as JSON naming the field `file`."""
    body = {"error": exc.message, "reason": exc.reason_code, "errors": {"file": [exc.message]}}
    return jsonify(body), exc.status


@bp.route("/appeals/<case_no>/materials", methods=["POST"])
@limits.lookup_limit
def public_add_material(case_no: str):
    """Add one file (multipart field `file`) to an open case."""
    appeal = _case_from_headers(case_no)
    if appeal is None:
        return _not_found()
    if appeal.status not in OPEN_STATES:
        return error_response(409, _("申诉已结束，不能再补充材料。"))
    # One file per request: stop reading the body (however it is sent, chunked or not) once it passes the file limit.
    one_file = current_app.config["MAX_FILE_BYTES"] + MULTIPART_OVERHEAD
    request.max_content_length = min(one_file, current_app.config.get("MAX_CONTENT_LENGTH") or one_file)
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _file_refused(MaterialRejected("file_too_large", materials.file_too_large_message(), 413))
    if upload is None or not upload.filename:
        return error_response(422, _("请选择要上传的文件。"), {"file": [_("请选择要上传的文件。")]})
    try:
        (material,) = casefile.add_materials(appeal, [upload])
        db.session.commit()
    except MaterialRejected as exc:
        db.session.rollback()
        return _file_refused(exc)
    resp = jsonify(
        {
            "id": material.id,
            "name": material.original_name,
            "size": material.size,
            "type": material.mime_type,
            "sha256": material.sha256,
            "received_at": _iso(material.received_at),
            "status": appeal.status,
        }
    )
    resp.status_code = 201
    return resp


@bp.route("/appeals/<case_no>/withdraw", methods=["POST"])
@limits.lookup_limit
def public_withdraw(case_no: str):
    """Withdraw (撤回) the appeal with a reason."""
    appeal = _case_from_headers(case_no)
    if appeal is None:
        return _not_found()
    body = _json_body()
    if body is None:
        return error_response(400, _("请求体应为 JSON 对象。"))
    try:
        reason = clean_text(body.get("reason"), max_length=1000, multiline=True)
    except FieldError as exc:
        return error_response(422, _("请检查填写的内容。"), {"reason": [exc.message]})
    if not reason:
        return error_response(422, _("请检查填写的内容。"), {"reason": [_("请填写撤回原因。")]})
    casefile.withdraw(appeal, reason)
    db.session.commit()
    return jsonify(_jsonable(casefile.case_view(appeal, _lang())))


# --- the OpenAPI description of these paths ---------------------------------------------------------------

_ERR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_CODE_HEADER = {
    "name": "X-Access-Code",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "maxLength": 64},
    "description": "The access code shown once when the appeal was filed.",
}
_CASE_NO = {"name": "case_no", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 20}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON",
        404: "Unknown case number or wrong access code (the same answer)",
        409: "The case is closed or the action is not open in its state",
        413: "Too large: a file, the appeal's total of files, or a JSON body over 256 KB",
        415: "File type not allowed (checked by content), or carrying macros, script or a hidden archive",
        422: "Validation failed; `errors` names each field",
        429: "Too many requests",
        503: "Storage unavailable",
        507: "The server's storage is full; nothing was stored",
    }
    return {str(s): {"description": text[s], "content": _ERR} for s in statuses}


openapi.SCHEMAS.update(
    {
        "Eligibility": {
            "type": "object",
            "description": "Answers to the eligibility check (Art. 10, 11, 13).",
            "properties": {k: {"type": ["boolean", "null"]} for k in ELIGIBILITY_KEYS},
            "required": ["complained_to_operator", "operator_replied", "court_or_arbitration", "settled_and_performed"],
        },
        "AppealInput": {
            "type": "object",
            "properties": {
                "complainant_name": {"type": "string", "maxLength": 50},
                "phone": {"type": "string", "description": "Mainland mobile or fixed line with area code"},
                "id_number": {"type": "string", "description": "Optional 18-digit resident ID (checksum verified)"},
                "address": {"type": "string", "maxLength": 200},
                "postcode": {"type": "string", "pattern": "^[0-9]{6}$"},
                "email": {"type": "string"},
                "operator": {"type": "string", "description": "Operator code from GET /operators"},
                "service_type": {"type": "string", "enum": list(codes.SERVICE_TYPES)},
                "service_number": {"type": "string", "maxLength": 40},
                "category": {"type": "string", "enum": list(codes.CATEGORIES)},
                "event_date": {"type": "string", "format": "date"},
                "operator_complaint_date": {"type": "string", "format": "date"},
                "operator_ticket_no": {"type": "string", "maxLength": 64},
                "request": {"type": "string", "maxLength": 1000},
                "facts": {"type": "string", "maxLength": 5000},
                "pledge": {"type": "boolean", "description": "The truthfulness pledge; must be true"},
                "eligibility": {"$ref": "#/components/schemas/Eligibility"},
            },
            "required": [
                "complainant_name",
                "phone",
                "address",
                "postcode",
                "operator",
                "service_type",
                "service_number",
                "category",
                "event_date",
                "operator_complaint_date",
                "request",
                "facts",
                "pledge",
                "eligibility",
            ],
        },
        "AppealReceipt": {
            "type": "object",
            "properties": {
                "case_no": {"type": "string"},
                "access_code": {"type": "string", "description": "Shown this once; keep it"},
                "status": {"type": "string"},
                "decision_due": {"type": ["string", "null"], "format": "date-time"},
                "decision_due_date": {
                    "type": ["string", "null"],
                    "format": "date",
                    "description": "The last day of the decision deadline, Asia/Shanghai",
                },
            },
            "required": ["case_no", "access_code", "status", "decision_due"],
        },
        "PublicCase": {
            "type": "object",
            "properties": {
                "case_no": {"type": "string"},
                "status": {"type": "string"},
                "status_name": {"type": "string"},
                "status_text": {"type": "string"},
                "open": {"type": "boolean"},
                "outcome": {"type": ["string", "null"]},
                "received_at": {"type": "string", "format": "date-time"},
                "operator": {"type": "string"},
                "category": {"type": "string"},
                "category_name": {"type": "string"},
                "rejection_ground": {"type": ["string", "null"]},
                "rejection_ground_name": {"type": "string"},
                "timeline": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "action": {"type": "string"},
                            "action_name": {"type": "string"},
                            "at": {"type": "string", "format": "date-time"},
                            "message": {"type": "string"},
                        },
                    },
                },
                "deadlines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string"},
                            "name": {"type": "string"},
                            "due_at": {"type": "string", "format": "date-time"},
                            "due_date": {"type": "string", "format": "date"},
                            "stopped_at": {"type": ["string", "null"], "format": "date-time"},
                            "paused": {"type": "boolean"},
                            "met": {"type": ["boolean", "null"]},
                        },
                    },
                },
                "materials": {"type": "array", "items": {"$ref": "#/components/schemas/PublicMaterial"}},
            },
            "required": ["case_no", "status", "status_text", "timeline", "deadlines", "materials"],
        },
        "PublicMaterial": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "size": {"type": "integer"},
                "type": {"type": "string"},
                "received_at": {"type": "string", "format": "date-time"},
            },
        },
        "MaterialReceipt": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "size": {"type": "integer"},
                "type": {"type": "string"},
                "sha256": {"type": "string"},
                "received_at": {"type": "string", "format": "date-time"},
                "status": {"type": "string"},
            },
            "required": ["id", "size", "type", "sha256"],
        },
        "CodeName": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "name_zh": {"type": "string"}, "name_en": {"type": "string"}},
        },
    }
)

openapi.PATHS.update(
    {
        "/operators": {
            "get": {
                "summary": "Operators an appeal can be filed against",
                "tags": ["public"],
                "responses": {
                    "200": {
                        "description": "The active operators",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "code": {"type": "string"},
                                            "name": {"type": "string"},
                                            "short_name": {"type": "string"},
                                            "operator_type": {"type": "string"},
                                            "operator_type_name_zh": {"type": "string"},
                                            "operator_type_name_en": {"type": "string"},
                                        },
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/categories": {
            "get": {
                "summary": "Appeal categories and service types (codes with Chinese and English names)",
                "tags": ["public"],
                "responses": {
                    "200": {
                        "description": "The code lists",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "categories": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/CodeName"},
                                        },
                                        "service_types": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/CodeName"},
                                        },
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/appeals": {
            "post": {
                "summary": "File an appeal (with the eligibility answers)",
                "tags": ["public"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AppealInput"}}},
                },
                "responses": {
                    "201": {
                        "description": "Filed; the access code is shown only here",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AppealReceipt"}}},
                    },
                    **_errors(400, 413, 422, 429),
                },
            }
        },
        "/appeals/{case_no}": {
            "get": {
                "summary": "Track an appeal",
                "tags": ["public"],
                "parameters": [_CASE_NO, _CODE_HEADER],
                "security": [{"accessCode": []}],
                "responses": {
                    "200": {
                        "description": "The case as its appellant sees it",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PublicCase"}}},
                    },
                    **_errors(404, 429),
                },
            }
        },
        "/appeals/{case_no}/materials": {
            "post": {
                "summary": "Add a material (one file) to an open appeal",
                "tags": ["public"],
                "parameters": [_CASE_NO, _CODE_HEADER],
                "security": [{"accessCode": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                                "required": ["file"],
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Stored",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MaterialReceipt"}}},
                    },
                    **_errors(404, 409, 413, 415, 422, 429, 503, 507),
                },
            }
        },
        "/appeals/{case_no}/withdraw": {
            "post": {
                "summary": "Withdraw (撤回) an appeal",
                "tags": ["public"],
                "parameters": [_CASE_NO, _CODE_HEADER],
                "security": [{"accessCode": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"reason": {"type": "string", "maxLength": 1000}},
                                "required": ["reason"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Withdrawn; the case as its appellant sees it",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PublicCase"}}},
                    },
                    **_errors(400, 404, 409, 413, 422, 429),
                },
            }
        },
    }
)
