"""手机号验证 and 我的申诉: a consumer proves their mobile number with an SMS code and sees every appeal filed with
it; 找回查询码 (a new access code); how they want to be told; the rating of a case that ended.

The rules are in `cases.consumers` and `cases.ratings`. The verified session's token sits in the signed session
cookie; opening one of the number's cases makes it the tracked case, so the tracking pages (timeline, materials,
withdrawal) serve it as they serve a case opened with its access code.
"""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from sqlalchemy.exc import IntegrityError

from app.extensions import db, limiter
from app.i18n import is_english
from app.public import bp
from app.public.consumer_forms import CodeForm, NotifyForm, PhoneForm, RatingForm
from app.public.consumer_session import TOKEN_KEY, TRACKED_BY_PHONE_KEY, verified_phone
from app.public.routes import TRACKED_KEY, _case_page, _no_store, _tracked
from cases import codes, consumers, ratings, receipts
from cases.models import Appeal
from cases.pii import mask_phone
from workflows import consumer_jobs, lifecycle, outbox

PENDING_KEY = "consumer_pending"  # the number a code was asked for, and what for
FILING = "file"


def _sign_in_first(purpose: str = consumers.SIGN_IN):
    flash(_("请先验证手机号码。"), "info")
    return redirect(url_for("public.consumer_sign_in", **({"for": FILING} if purpose == consumers.FILE else {})))


def _purpose() -> str:
    return consumers.FILE if (request.args.get("for") or request.form.get("for")) == FILING else consumers.SIGN_IN


@bp.route("/my/sign-in", methods=["GET", "POST"])
def consumer_sign_in():
    """The mobile number to send a one-time code to; the same answer whether or not it has appeals."""
    form = PhoneForm()
    purpose = _purpose()
    if request.method == "POST":
        if not form.validate():
            return render_template("public/my_sign_in.html", form=form, purpose=purpose), 422
        try:
            row = consumers.request_code(
                form.phone.data, purpose, get_remote_address(), limiter.limiter, current_app.secret_key
            )
        except consumers.Refused as exc:
            db.session.rollback()
            form.phone.errors.append(exc.message)
            return render_template("public/my_sign_in.html", form=form, purpose=purpose), exc.status
        outbox.record("send_phone_code", {"code_id": row.id})
        db.session.commit()
        session[PENDING_KEY] = {"phone": form.phone.data, "for": purpose}
        if purpose == consumers.FILE:
            flash(_("验证码已发送到 %(phone)s，5分钟内有效。", phone=mask_phone(form.phone.data)), "info")
        else:
            flash(_("如果该号码有申诉记录，验证码已发送，5分钟内有效。"), "info")
        return redirect(url_for("public.consumer_verify"))
    return render_template("public/my_sign_in.html", form=form, purpose=purpose)


@bp.route("/my/verify", methods=["GET", "POST"])
def consumer_verify():
    """The code from the SMS: a right one starts a 30-minute session bound to the number."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("phone"), str):
        return redirect(url_for("public.consumer_sign_in"))
    phone, purpose = pending["phone"], pending.get("for")
    form = CodeForm()
    page = {"form": form, "masked_phone": mask_phone(phone), "purpose": purpose}
    if request.method == "POST":
        if not form.validate():
            return render_template("public/my_verify.html", **page), 422
        try:
            verified = consumers.verify_code(phone, form.code.data, current_app.secret_key)
        except consumers.Refused as exc:
            db.session.commit()  # the wrong try counts
            form.code.errors.append(exc.message)
            return render_template("public/my_verify.html", **page), 422 if exc.status == 401 else exc.status
        db.session.commit()
        session.pop(PENDING_KEY, None)
        session[TOKEN_KEY] = verified.token
        if purpose == consumers.FILE:
            return redirect(url_for("public.eligibility_check"))
        return redirect(url_for("public.my_appeals"))
    return render_template("public/my_verify.html", **page)


def _row(appeal: Appeal, lang: str) -> dict:
    state = lifecycle.STATES.get(appeal.status)
    return {
        "case_no": appeal.case_no,
        "status_name": codes.localized(state, lang) if state else appeal.status,
        "received_at": appeal.received_at,
        "operator": appeal.operator.display_name if appeal.operator else "",
        "category_name": codes.name("category", appeal.category, lang),
        "open": appeal.status in lifecycle.OPEN_STATES,
        "can_withdraw": lifecycle.transition_for("withdraw", appeal.status) is not None,
        "can_rate": ratings.can_rate(appeal),
        "notify_by": appeal.notify_by,
        "email": bool(appeal.email),
    }


@bp.route("/my")
def my_appeals():
    """我的申诉: every appeal filed with the verified number, newest first."""
    phone = verified_phone()
    if phone is None:
        return _sign_in_first()
    lang = "en" if is_english() else "zh"
    rows = [_row(a, lang) for a in consumers.appeals_of(phone)]
    page = render_template(
        "public/my_appeals.html", appeals=rows, masked_phone=mask_phone(phone), notify_form=NotifyForm()
    )
    return _no_store(make_response(page))


def _my_case(case_no: str) -> tuple[str, Appeal]:
    """The verified number and its case; another number's case or an unknown one is the same 404."""
    phone = verified_phone()
    if phone is None:
        abort(401)
    appeal = consumers.appeal_of(phone, case_no)
    if appeal is None:
        abort(404)
    return phone, appeal


@bp.route("/my/cases/<case_no>")
def my_case(case_no: str):
    """Open one of the number's cases on the tracking page (audited as a consumer's view)."""
    if verified_phone() is None:
        return _sign_in_first()
    _phone, appeal = _my_case(case_no)
    consumers.record_view(appeal, "web")
    db.session.commit()
    session[TRACKED_KEY] = appeal.id
    session[TRACKED_BY_PHONE_KEY] = appeal.id
    return redirect(url_for("public.case_status"))


@bp.route("/my/cases/<case_no>/access-code", methods=["POST"])
def my_new_access_code(case_no: str):
    """找回查询码: a new access code, shown once and sent by SMS; the old one stops working at once."""
    if verified_phone() is None:
        return _sign_in_first()
    _phone, appeal = _my_case(case_no)
    code, event = consumers.new_access_code(appeal, "web")
    outbox.record(
        "send_access_code",
        {"appeal_id": appeal.id, "sealed": consumer_jobs.seal_access_code(code), "event_id": event.id},
    )
    db.session.commit()
    page = render_template(
        "public/my_new_code.html", case_no=appeal.case_no, code=code, code_grouped=receipts.group_code(code)
    )
    return _no_store(make_response(page))


@bp.route("/my/cases/<case_no>/notify-by", methods=["POST"])
def my_notify_by(case_no: str):
    """How the appellant wants to be told of this case: SMS, e-mail or both."""
    if verified_phone() is None:
        return _sign_in_first()
    _phone, appeal = _my_case(case_no)
    form = NotifyForm()
    if not form.validate():
        flash(" ".join(form.notify_by.errors), "error")
        return redirect(url_for("public.my_appeals"))
    if form.notify_by.data != "sms" and not appeal.email:
        flash(_("这件申诉没有填写电子邮箱，只能用短信通知。"), "error")
        return redirect(url_for("public.my_appeals"))
    appeal.notify_by = form.notify_by.data
    db.session.commit()
    flash(_("通知方式已更新。"), "success")
    return redirect(url_for("public.my_appeals"))


@bp.route("/my/sign-out", methods=["POST"])
def consumer_sign_out():
    """End the verified session (and forget the tracked case)."""
    consumers.end_session(session.pop(TOKEN_KEY, None))
    db.session.commit()
    session.pop(TRACKED_KEY, None)
    flash(_("已退出。"), "info")
    return redirect(url_for("public.index"))


@bp.route("/track/rating", methods=["POST"])
def rate_case():
    """满意度评价 of the tracked case, once, after it ended."""
    appeal = _tracked()
    if appeal is None:
        return redirect(url_for("public.track"))
    form = RatingForm()
    if not form.validate():
        return _case_page(appeal, rating_form=form), 422
    try:
        ratings.rate(appeal, form.score_value(), form.comment.data)
        db.session.commit()
    except ratings.RatingRefused as exc:
        db.session.rollback()
        form.score.errors = [*exc.errors.get("score", [])]
        form.comment.errors = [*exc.errors.get("comment", [])]
        return _case_page(appeal, rating_form=form), exc.status
    except IntegrityError:  # rated at the same moment in another tab
        db.session.rollback()
        form.score.errors = [_("这件申诉已经评价过了。")]
        return _case_page(appeal, rating_form=form), 409
    flash(_("感谢您的评价。"), "success")
    return redirect(url_for("public.case_status", _anchor="rating"))
