"""The consumer's API: reference lists, filing, tracking, materials, withdrawal.

The same rules as the portal: fields through `cases.intake`, eligibility through
`cases.eligibility`, files through `cases.materials`. A case is reached with its
number and the `X-Access-Code` header; a wrong code and an unknown number both get 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, g, request, url_for
from flask_babel import gettext as _

from app.api import bp, consumer
from app.api.models import (
    AccessCode,
    AppealInput,
    AppealReceipt,
    CodeLists,
    MaterialReceipt,
    MaterialUpload,
    OperatorList,
    PublicCase,
    WithdrawInput,
)
from app.api.spec import body, endpoint
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


def _locate(case_no: str, **_: Any):
    """Find the case by its number and access code, or by the bearer token of the verified phone it was filed with,
    before anything else (the `first` step of a declaration); each way a miss is the same 404."""
    if "X-Access-Code" not in request.headers and request.headers.get("Authorization", "").startswith("Bearer "):
        appeal = consumer.locate_by_token(case_no)
    else:
        appeal = tracking.find_case(case_no, request.headers.get("X-Access-Code", ""))
    if appeal is None:
        limits.mark_failed_lookup()
        return _not_found()
    g.appeal = appeal
    return None


def _not_found():
    return error_response(404, _("案件编号或查询码不正确。"))


@bp.route("/operators")
@limits.reference_limit
@endpoint(ok={200: OperatorList}, errors=(429,), tags=("public",))
def public_operators():
    """The operators an appeal can be filed against."""
    return (
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
        ],
        200,
    )


@bp.route("/categories")
@limits.reference_limit
@endpoint(ok={200: CodeLists}, errors=(429,), tags=("public",))
def public_categories():
    """The appeal categories (and the service types an appeal names)."""
    return (
        {
            "categories": [
                {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en} for c in reference.active_codes("category")
            ],
            "service_types": [
                {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en}
                for c in reference.active_codes("service_type")
            ],
        },
        200,
    )


@bp.route("/appeals", methods=["POST"])
@limits.filing_limit
@endpoint(body=AppealInput, ok={201: AppealReceipt}, errors=(401, 429), tags=("public",))
def public_file_appeal():
    """File an appeal (with the eligibility answers); 201 with the case number and the access code, shown once.
    With a consumer bearer token the appeal's phone is the verified one; when phone verification is required
    (REQUIRE_PHONE_VERIFICATION) filing without one answers 401."""
    filed_in: AppealInput = body()
    verified = _verified_filer()
    if isinstance(verified, tuple):
        return verified
    today = casefile.today_local()
    answers = eligibility.Answers(**filed_in.eligibility.model_dump())
    raw = filed_in.model_dump(exclude={"eligibility"})
    if verified is not None:
        raw["phone"] = verified
    try:
        cleaned = intake.clean_appeal(raw, today)
    except intake.IntakeErrors as exc:
        return error_response(422, _("请检查填写的内容。"), exc.errors)
    try:
        intake.check_eligibility(answers, cleaned, today)
    except intake.IntakeErrors as exc:
        if exc.stop is None:
            return error_response(422, _("请检查填写的内容。"), exc.errors)
        eligibility.record_stop(exc.stop.reason, today)
        db.session.commit()
        refusal = {
            "error": f"{exc.stop.advice}（{exc.stop.article}）",
            "errors": exc.errors,
            "ground": exc.stop.ground,
            "article": exc.stop.article,
        }
        return refusal, 422
    filed = casefile.submit_appeal(cleaned, alone=True)  # written and committed in one statement
    decision = filed.appeal.deadline("decision")
    answer = {  # read before the commit, which expires the objects (no reload queries for the answer)
        "case_no": filed.appeal.case_no,
        "access_code": filed.access_code,
        "status": filed.appeal.status,
        "decision_due": _iso(decision.due_at) if decision else None,
        "decision_due_date": calendar.local_date(decision.due_at).isoformat() if decision else None,
    }
    db.session.commit()
    headers = {"Location": url_for("api.public_appeal", case_no=answer["case_no"]), "Cache-Control": "no-store"}
    return answer, 201, headers


def _verified_filer() -> str | None | tuple:
    """The verified phone of a consumer bearer token; None without one (when not required); a 401 answer for a
    token that is not (or no longer) valid, or for none when verification is required."""
    sent = request.headers.get("Authorization", "").startswith("Bearer ")
    phone = consumer.bearer_phone() if sent else None
    if phone is None and (sent or current_app.config.get("REQUIRE_PHONE_VERIFICATION")):
        return error_response(
            401,
            _(
                "提交申诉需要先验证手机号码：POST /api/v1/consumer/verification（purpose 为 file），再用短信验证码 POST /api/v1/consumer/sessions，带上得到的 token（Authorization: Bearer）提交。"
            ),
        )
    return phone


@bp.route("/appeals/<case_no>")
@limits.lookup_limit
@endpoint(headers=AccessCode, ok={200: PublicCase}, errors=(404, 429), auth="code", first=_locate, tags=("public",))
def public_appeal(case_no: str):
    """Track an appeal: the case as its appellant sees it (state, public timeline, deadlines, materials)."""
    appeal: Appeal = g.appeal
    return _jsonable(casefile.case_view(appeal, _lang())), 200, {"Cache-Control": "no-store"}


MULTIPART_OVERHEAD = 64 * 1024  # the part's headers and boundaries around one file


def _file_refused(exc: MaterialRejected):
    """A refused file as JSON naming the field `file`."""
    refusal = {"error": exc.message, "reason": exc.reason_code, "errors": {"file": [exc.message]}}
    return refusal, exc.status


@bp.route("/appeals/<case_no>/materials", methods=["POST"])
@limits.lookup_limit
@endpoint(
    headers=AccessCode,
    form=MaterialUpload,
    max_bytes=lambda: current_app.config["MAX_FILE_BYTES"] + MULTIPART_OVERHEAD,
    too_large=lambda: _file_refused(MaterialRejected("file_too_large", materials.file_too_large_message(), 413)),
    ok={201: MaterialReceipt},
    errors=(404, 409, 413, 415, 429, 503, 507),
    auth="code",
    first=_locate,
    tags=("public",),
)
def public_add_material(case_no: str):
    """Add a material (one file, multipart field `file`) to an open appeal."""
    appeal: Appeal = g.appeal
    if appeal.status not in OPEN_STATES:
        return error_response(409, _("申诉已结束，不能再补充材料。"))
    upload = request.files.get("file")  # one file per request, read within the file limit by the declaration
    if upload is None or not upload.filename:
        return error_response(422, _("请选择要上传的文件。"), {"file": [_("请选择要上传的文件。")]})
    try:
        (material,) = casefile.add_materials(appeal, [upload])
        db.session.commit()
    except MaterialRejected as exc:
        db.session.rollback()
        return _file_refused(exc)
    receipt = {
        "id": material.id,
        "name": material.original_name,
        "size": material.size,
        "type": material.mime_type,
        "sha256": material.sha256,
        "received_at": _iso(material.received_at),
        "status": appeal.status,
    }
    return receipt, 201


@bp.route("/appeals/<case_no>/withdraw", methods=["POST"])
@limits.lookup_limit
@endpoint(
    headers=AccessCode,
    body=WithdrawInput,
    ok={200: PublicCase},
    errors=(404, 409, 429),
    auth="code",
    first=_locate,
    tags=("public",),
)
def public_withdraw(case_no: str):
    """Withdraw (撤回) an appeal, with a reason."""
    appeal: Appeal = g.appeal
    try:
        reason = clean_text(body().reason, max_length=1000, multiline=True)
    except FieldError as exc:
        return error_response(422, _("请检查填写的内容。"), {"reason": [exc.message]})
    if not reason:
        return error_response(422, _("请检查填写的内容。"), {"reason": [_("请填写撤回原因。")]})
    casefile.withdraw(appeal, reason)
    db.session.commit()
    return _jsonable(casefile.case_view(appeal, _lang())), 200


@bp.route("/appeals/<case_no>/rating", methods=["POST"])
@limits.lookup_limit
@endpoint(
    headers=AccessCode,
    body=consumer.RatingInput,
    ok={201: consumer.RatingOut},
    errors=(404, 409, 429),
    auth="code",
    first=_locate,
    tags=("public",),
)
def public_rate(case_no: str):
    """满意度评价 of a case that ended (办结), once: 1–5 and an optional comment; 409 before it ends or when rated."""
    return consumer.rating_answer(g.appeal, body())
