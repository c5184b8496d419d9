"""The consumer's phone sign-in in the API (手机号验证): ask for a code, trade it for a bearer token bound to the
number, list the number's appeals, get a new access code, rate a case that ended.

The rules are the portal's (`cases.consumers`, `cases.ratings`). The token works on the consumer's case
endpoints (`app/api/public.py`) as well as `X-Access-Code`; a token for another number gets the same 404 as a
wrong code. It is not a staff token: the staff API never accepts it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from pydantic import Field
from sqlalchemy.exc import IntegrityError

from app.api import bp
from app.api.models import ApiModel, Out, Text, iso
from app.api.spec import body, endpoint
from app.errors import error_response
from app.extensions import db, limiter
from app.i18n import is_english
from app.public import limits
from cases import codes, consumers, ratings
from cases.models import Appeal
from cases.pii import mask_phone
from workflows import consumer_jobs, lifecycle, outbox


class PhoneInput(ApiModel):
    """The mobile number to send a one-time code to."""

    phone: Text = Field(json_schema_extra={"maxLength": 20}, description="A mainland mobile number, 11 digits")
    purpose: Literal["sign_in", "file"] = Field(
        "sign_in", description="`file`: the code is sent even when the number has no appeals yet (to file one)"
    )


class CodeInput(ApiModel):
    """The number and the 6-digit code from the SMS."""

    phone: Text = Field(json_schema_extra={"maxLength": 20})
    code: Text = Field(json_schema_extra={"maxLength": 6})


class RatingInput(ApiModel):
    """满意度评价: 1–5 and an optional comment."""

    score: int = Field(ge=1, le=5)
    comment: Text | None = Field(None, json_schema_extra={"maxLength": ratings.COMMENT_LIMIT})


class Accepted(Out):
    """The request was taken; what happens next is said in `message`."""

    message: str


class ConsumerToken(Out):
    """A bearer token bound to the verified number, and when it ends (30 minutes)."""

    token: str
    expires_at: dt.datetime


class ConsumerAppeal(Out):
    """One of the number's appeals."""

    case_no: str
    status: str
    status_name: str
    received_at: dt.datetime
    operator: str
    category: str
    category_name: str
    open: bool
    can_rate: bool
    notify_by: str


class ConsumerAppeals(Out):
    """The verified number's appeals, newest first."""

    phone: str = Field(description="The number, masked")
    items: list[ConsumerAppeal]


class RatingOut(Out):
    """The rating as recorded."""

    case_no: str
    score: int
    comment: str
    at: dt.datetime


def bearer_phone() -> str | None:
    """The number a consumer bearer token (`Authorization: Bearer ...`) is bound to, while it lasts."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return consumers.session_phone(header[7:].strip())


def _phone_refused():
    return error_response(422, _("请检查填写的内容。"), {"phone": [_("请填写11位手机号码，如 13800138000。")]})


@bp.route("/consumer/verification", methods=["POST"])
@endpoint(body=PhoneInput, ok={202: Accepted}, errors=(429,), tags=("consumer",))
def consumer_verification():
    """Send a one-time code by SMS: 202 whether or not the number has appeals; 429 over the limits."""
    asked: PhoneInput = body()
    phone = consumers.normalise_mobile(asked.phone)
    if phone is None:
        return _phone_refused()
    purpose = consumers.FILE if asked.purpose == "file" else consumers.SIGN_IN
    try:
        row = consumers.request_code(phone, purpose, get_remote_address(), limiter.limiter, current_app.secret_key)
    except consumers.Refused as exc:
        db.session.rollback()
        return error_response(429, exc.message, {"phone": [exc.message]})
    outbox.record("send_phone_code", {"code_id": row.id})
    db.session.commit()
    return {"message": _("如果该号码有申诉记录，验证码已发送，5分钟内有效。")}, 202


@bp.route("/consumer/sessions", methods=["POST"])
@limits.lookup_limit
@endpoint(body=CodeInput, ok={201: ConsumerToken}, errors=(401, 429), tags=("consumer",))
def consumer_sessions():
    """Trade the SMS code for a bearer token bound to the number (30 minutes); a wrong code 401, the 5th 429."""
    given: CodeInput = body()
    phone = consumers.normalise_mobile(given.phone)
    if phone is None:
        return _phone_refused()
    try:
        verified = consumers.verify_code(phone, given.code, current_app.secret_key)
    except consumers.Refused as exc:
        db.session.commit()  # the wrong try counts
        limits.mark_failed_lookup()
        return error_response(exc.status, exc.message, {"code": [exc.message]})
    db.session.commit()
    answer = {"token": verified.token, "expires_at": iso(verified.expires_at)}
    return answer, 201, {"Cache-Control": "no-store"}


def _signed_in(**_kwargs):
    """The `first` step of the token's endpoints: the verified number, or 401 saying how to get one."""
    g.consumer_phone = bearer_phone()
    if g.consumer_phone is None:
        return error_response(
            401, _("请先验证手机号码：POST /api/v1/consumer/verification，再 POST /api/v1/consumer/sessions。")
        )
    return None


@bp.route("/consumer/appeals")
@endpoint(ok={200: ConsumerAppeals}, errors=(401,), auth="bearer", first=_signed_in, tags=("consumer",))
def consumer_appeals():
    """The verified number's appeals, newest first."""
    lang = "en" if is_english() else "zh"
    items = []
    for appeal in consumers.appeals_of(g.consumer_phone):
        state = lifecycle.STATES.get(appeal.status)
        items.append(
            {
                "case_no": appeal.case_no,
                "status": appeal.status,
                "status_name": codes.localized(state, lang) if state else appeal.status,
                "received_at": iso(appeal.received_at),
                "operator": appeal.operator.display_name if appeal.operator else "",
                "category": appeal.category,
                "category_name": codes.name("category", appeal.category, lang),
                "open": appeal.status in lifecycle.OPEN_STATES,
                "can_rate": ratings.can_rate(appeal),
                "notify_by": appeal.notify_by,
            }
        )
    return {"phone": mask_phone(g.consumer_phone), "items": items}, 200, {"Cache-Control": "no-store"}


def _my_case(case_no: str, **_kwargs):
    """The token's number's case, or the same 404 as a wrong access code."""
    if (refused := _signed_in()) is not None:
        return refused
    appeal = consumers.appeal_of(g.consumer_phone, case_no)
    if appeal is None:
        limits.mark_failed_lookup()
        return error_response(404, _("案件编号或查询码不正确。"))
    g.appeal = appeal
    return None


@bp.route("/appeals/<case_no>/access-code", methods=["POST"])
@limits.lookup_limit
@endpoint(ok={202: Accepted}, errors=(401, 404, 429), auth="bearer", first=_my_case, tags=("consumer",))
def consumer_new_access_code(case_no: str):
    """找回查询码: a new access code, sent by SMS; the old one is refused from then on."""
    appeal: Appeal = g.appeal
    code, event = consumers.new_access_code(appeal, "api")
    outbox.record(
        "send_access_code",
        {"appeal_id": appeal.id, "sealed": consumer_jobs.seal_access_code(code), "event_id": event.id},
    )
    db.session.commit()
    return {"message": _("新查询码已通过短信发送，原查询码已失效。")}, 202


def locate_by_token(case_no: str) -> Appeal | None:
    """The case of a consumer bearer token's number (audited as a consumer's view), else None."""
    phone = bearer_phone()
    appeal = consumers.appeal_of(phone, case_no) if phone else None
    if appeal is not None:
        consumers.record_view(appeal, "api")
        db.session.commit()
    return appeal


def rating_answer(appeal: Appeal, rating_input: RatingInput):
    """Rate the case (201), or 409/422 as `cases.ratings` decides."""
    try:
        row = ratings.rate(appeal, rating_input.score, rating_input.comment or "", via="api")
        answer = {"case_no": appeal.case_no, "score": row.score, "comment": row.comment, "at": iso(row.at)}
        db.session.commit()
    except ratings.RatingRefused as exc:
        db.session.rollback()
        return error_response(exc.status, exc.message, exc.errors)
    except IntegrityError:
        db.session.rollback()
        return error_response(409, _("这件申诉已经评价过了。"), {"score": [_("这件申诉已经评价过了。")]})
    return answer, 201
