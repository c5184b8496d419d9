"""The public portal's pages: home, eligibility check, appeal form, receipt, tracking, materials, withdrawal."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.i18n import ELDER_COOKIE, LANG_COOKIE, is_english
from app.public import bp, casefile, consumer_session, limits
from app.public.consumer_forms import RatingForm
from app.public.forms import AppealForm, EligibilityForm, MaterialsForm, ReportForm, TrackForm, WithdrawForm
from cases import consumers, eligibility, outcome, ratings, receipts, tracking
from cases.materials import MaterialRejected
from cases.models import Appeal, FilingReceipt
from workflows import filing, lifecycle, outbox
from workflows.engine import LifecycleError

ONE_YEAR = 365 * 24 * 3600
ELIGIBILITY_KEY = "eligibility"
RECEIPT_KEY = "receipt"
TRACKED_KEY = "tracked_case"


def _back() -> str:
    target = request.form.get("next") or request.referrer or url_for("public.index")
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.path.startswith("/") else "/"


def _lang() -> str:
    return "en" if is_english() else "zh"


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/")
def index():
    """The home page: what the centre does, and the way in."""
    return render_template("public/index.html")


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch between Chinese and English; remembered in a cookie."""
    lang = "en" if request.form.get("lang") == "en" else "zh"
    resp = make_response(redirect(_back()))
    resp.set_cookie(LANG_COOKIE, lang, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return resp


@bp.route("/elder-mode", methods=["POST"])
def toggle_elder_mode():
    """Large text and high contrast (适老化), remembered per browser."""
    on = request.form.get("on") == "1"
    resp = make_response(redirect(_back()))
    resp.set_cookie(ELDER_COOKIE, "1" if on else "0", max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return resp


@bp.route("/appeal/check", methods=["GET", "POST"])
@limits.check_limit
def eligibility_check():
    """The questions before the form; a stop explains what to do instead and only counts anonymously."""
    form = EligibilityForm()
    if request.method == "POST":
        if form.validate():
            today = casefile.today_local()
            stop = eligibility.evaluate(form.answers, today)
            if stop is not None:
                eligibility.record_stop(stop.reason, today)
                db.session.commit()
                session.pop(ELIGIBILITY_KEY, None)
                return render_template("public/stop.html", stop=stop)
            session[ELIGIBILITY_KEY] = form.answers.to_session()
            return redirect(url_for("public.new_appeal"))
        return render_template("public/eligibility.html", form=form), 422
    return render_template("public/eligibility.html", form=form)


def _posted_token() -> str | None:
    """The appeal form's one-time token as posted, when it looks like one."""
    token = request.form.get("form_token", "")
    return token if receipts.KEY_RE.fullmatch(token) else None


def _receipt_again(token: str, record: FilingReceipt):
    """A second submission of a form already filed: its first receipt, not a second appeal."""
    session.pop(ELIGIBILITY_KEY, None)
    session[RECEIPT_KEY] = token
    session[TRACKED_KEY] = record.appeal_id
    flash(_("这份申诉已经提交过，没有重复提交。下面是第一次提交的回执。"), "info")
    return redirect(url_for("public.receipt"))


def _prefill(form: AppealForm, answers: eligibility.Answers) -> None:
    """The appeal form starts with what the eligibility check was told (dates, a charging dispute)."""
    if answers.event_date and not form.event_date.data:
        form.event_date.data = answers.event_date.isoformat()
    if answers.complaint_date and not form.operator_complaint_date.data:
        form.operator_complaint_date.data = answers.complaint_date.isoformat()
    if answers.charging and not form.category.data:
        form.category.data = "charging"


@bp.route("/appeal/new", methods=["GET", "POST"])
@limits.filing_limit
def new_appeal():
    """The appeal form; reached only through the eligibility check, whose answers it carries."""
    token = _posted_token() if request.method == "POST" else None
    if token is not None and (filed_before := receipts.find("form", token)) is not None:
        return _receipt_again(token, filed_before)
    saved = session.get(ELIGIBILITY_KEY)
    if not isinstance(saved, dict):
        flash(_("请先回答几个问题，确认可以申诉。"), "info")
        return redirect(url_for("public.eligibility_check"))
    try:
        answers = eligibility.Answers.from_session(saved)
    except (TypeError, ValueError):
        session.pop(ELIGIBILITY_KEY, None)
        return redirect(url_for("public.eligibility_check"))
    phone = consumer_session.verified_phone()
    if phone is None and consumer_session.verification_required():
        flash(_("提交申诉前，请先验证您的手机号码。"), "info")
        return redirect(url_for("public.consumer_sign_in", **{"for": "file"}))
    form = AppealForm()
    form.form_token.data = token or receipts.new_form_token()  # kept while the form is shown again with errors
    if phone is not None and consumer_session.verification_required():
        form.phone.data = phone  # the appeal's phone is the verified one, whatever was posted
        form.phone.render_kw = {**(form.phone.render_kw or {}), "readonly": True}
    if request.method == "GET":
        _prefill(form, answers)
        return render_template("public/appeal_form.html", form=form)
    had_files = bool(filing.real_files(form.materials.data or []))
    if not form.validate_with(answers):
        return render_template("public/appeal_form.html", form=form, had_files=had_files), 422
    token = form.form_token.data
    try:
        record = receipts.claim("form", token)  # a concurrent second submission waits here, then finds this case
        filed = casefile.submit_appeal(form.cleaned, form.materials.data or [])
        receipts.complete(record, filed.appeal, filed.access_code, key=token, app_secret=current_app.secret_key)
        outbox.record("send_receipt", {"receipt_id": record.id}, dedupe_key=f"receipt-{record.id}")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        filed_before = receipts.find("form", token)
        if filed_before is None:
            raise
        return _receipt_again(token, filed_before)
    except MaterialRejected as exc:
        db.session.rollback()
        form.materials.errors = [exc.message]
        return render_template("public/appeal_form.html", form=form, had_files=True), exc.status
    except OSError:
        db.session.rollback()
        form.materials.errors = [_("文件保存失败，请稍后重试。")]
        return render_template("public/appeal_form.html", form=form, had_files=True), 503
    session.pop(ELIGIBILITY_KEY, None)
    session[RECEIPT_KEY] = token  # the key to the sealed receipt, not the access code
    session[TRACKED_KEY] = filed.appeal.id
    return redirect(url_for("public.receipt"))


@bp.route("/appeal/receipt")
def receipt():
    """The case number and access code: shown again on reload for a few minutes, in the browser that filed."""
    token = session.get(RECEIPT_KEY)
    record = receipts.find("form", token) if isinstance(token, str) and receipts.KEY_RE.fullmatch(token) else None
    code = receipts.receipt_code(record, token) if record is not None else None
    if record is None or code is None:
        session.pop(RECEIPT_KEY, None)
        if record is not None:
            flash(
                _(
                    "回执页面只在提交后%(n)d分钟内显示查询码。查询码已通过短信发送到您填写的手机号码。",
                    n=receipts.RECEIPT_MINUTES,
                ),
                "info",
            )
        return redirect(url_for("public.case_status" if session.get(TRACKED_KEY) else "public.track"))
    appeal = record.appeal
    decision = appeal.deadline("decision")
    data = {
        "case_no": appeal.case_no,
        "access_code": code,
        "access_code_grouped": receipts.group_code(code),
        "materials": sum(1 for m in appeal.materials if m.source == "consumer"),
        "phone": appeal.phone,
        "email": appeal.email,
        "until": receipts.receipt_until(record),
    }
    page = render_template("public/receipt.html", receipt=data, decision_due=decision.due_at if decision else None)
    return _no_store(make_response(page))


@bp.route("/track", methods=["GET", "POST"])
@limits.lookup_limit_post
def track():
    """Case number + access code open the case; a wrong pair and an unknown number get the same answer."""
    form = TrackForm()
    if request.method == "POST":
        if form.validate():
            appeal = tracking.find_case(form.case_no.data, form.access_code.data)
            if appeal is not None:
                session[TRACKED_KEY] = appeal.id
                session.pop(consumer_session.TRACKED_BY_PHONE_KEY, None)
                return redirect(url_for("public.case_status"))
            limits.mark_failed_lookup()
            form.access_code.errors.append(_("案件编号或查询码不正确。"))
        return render_template("public/track.html", form=form), 422
    return render_template("public/track.html", form=form)


def _tracked() -> Appeal | None:
    """The case this browser follows: opened with its access code, or from 我的申诉 while the phone session lasts
    and only for that number's case."""
    case_id = session.get(TRACKED_KEY)
    if not isinstance(case_id, int):
        return None
    appeal = db.session.get(Appeal, case_id)
    if appeal is not None and session.get(consumer_session.TRACKED_BY_PHONE_KEY) == case_id:
        if consumer_session.verified_phone() != appeal.phone:
            session.pop(TRACKED_KEY, None)
            return None
    return appeal


@bp.route("/track/case")
def case_status():
    """The tracked case: its state in plain words, public timeline, deadlines and materials."""
    appeal = _tracked()
    if appeal is None:
        return redirect(url_for("public.track"))
    return _no_store(make_response(_case_page(appeal)))


def _case_page(appeal: Appeal, report_form: ReportForm | None = None, rating_form: RatingForm | None = None) -> str:
    """The tracking page: state, progress steps, the outcome and terms, the rating, timeline, deadlines,
    materials and the messages sent to the appellant."""
    view = casefile.case_view(appeal, _lang())
    for clock, answered in zip(view["deadlines"], outcome.reply_clock_status(appeal), strict=True):
        clock["answered"] = answered
    return render_template(
        "public/case.html",
        case=view,
        progress=outcome.progress(appeal, _lang()),
        result=outcome.summary(appeal, _lang()),
        form=MaterialsForm(),
        report_form=report_form or ReportForm(formdata=None),
        rating=ratings.web_rating(appeal),
        can_rate=ratings.can_rate(appeal),
        rating_form=rating_form or RatingForm(formdata=None),
        messages=consumers.messages_of(appeal),
        message_status=consumers.SENT_STATUSES,
    )


@bp.route("/track/terms-not-done", methods=["POST"])
def report_terms_not_done():
    """ "企业没有履行": the appellant reports the settlement terms not carried out; it reaches the mediator."""
    appeal = _tracked()
    if appeal is None:
        return redirect(url_for("public.track"))
    form = ReportForm()
    if not form.validate():
        return _case_page(appeal, form), 422
    try:
        event = outcome.report_terms_not_done(appeal, form.text.data)
    except outcome.ReportRefused as exc:
        db.session.rollback()
        form.text.errors.append(exc.message)
        return _case_page(appeal, form), 409
    outbox.record("notify_terms_reported", {"event_id": event.id}, dedupe_key=f"terms-reported-{event.id}")
    db.session.commit()
    flash(_("已收到您的反映。调解员将联系您和企业核实履行情况。"), "success")
    return redirect(url_for("public.case_status", _anchor="outcome"))


@bp.route("/track/materials", methods=["GET", "POST"])
def add_materials():
    """Add files to the tracked case while it is open."""
    appeal = _tracked()
    if appeal is None:
        return redirect(url_for("public.track"))
    if appeal.status not in lifecycle.OPEN_STATES:
        flash(_("申诉已结束，不能再补充材料。"), "error")
        return redirect(url_for("public.case_status"))
    form = MaterialsForm()
    if request.method == "POST" and form.validate():
        files = filing.real_files(form.materials.data or [])
        if not files:
            form.materials.errors.append(_("请选择要上传的文件。"))
            return render_template("public/materials.html", form=form, case_no=appeal.case_no), 422
        try:
            stored = casefile.add_materials(appeal, files)
            db.session.commit()
        except MaterialRejected as exc:
            db.session.rollback()
            form.materials.errors.append(exc.message)
            return render_template("public/materials.html", form=form, case_no=appeal.case_no), exc.status
        except LifecycleError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for("public.case_status"))
        except OSError:
            db.session.rollback()
            form.materials.errors.append(_("文件保存失败，请稍后重试。"))
            return render_template("public/materials.html", form=form, case_no=appeal.case_no), 503
        flash(_("已收到 %(n)d 份材料。", n=len(stored)), "success")
        return redirect(url_for("public.case_status"))
    return render_template("public/materials.html", form=form, case_no=appeal.case_no)


@bp.route("/track/withdraw", methods=["GET", "POST"])
def withdraw():
    """Withdraw (撤回) the tracked case: the reason, a confirmation page, then the withdrawal."""
    appeal = _tracked()
    if appeal is None:
        return redirect(url_for("public.track"))
    if lifecycle.transition_for("withdraw", appeal.status) is None:
        flash(_("当前状态下不能撤回申诉。"), "error")
        return redirect(url_for("public.case_status"))
    form = WithdrawForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("public/withdraw.html", form=form, case_no=appeal.case_no), 422
        if form.confirm.data != "yes":
            form.confirm.data = "yes"
            return render_template("public/withdraw_confirm.html", form=form, case_no=appeal.case_no)
        try:
            casefile.withdraw(appeal, form.reason.data)
            db.session.commit()
        except LifecycleError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for("public.case_status"))
        flash(_("您的申诉已撤回。"), "success")
        return redirect(url_for("public.case_status"))
    return render_template("public/withdraw.html", form=form, case_no=appeal.case_no)


@bp.route("/track/exit", methods=["POST"])
def forget_case():
    """退出查询: forget the tracked case in this browser."""
    session.pop(TRACKED_KEY, None)
    flash(_("已退出查询。"), "info")
    return redirect(url_for("public.index"))
