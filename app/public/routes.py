"""The public portal's pages: home, eligibility check, appeal form, receipt, tracking, materials, withdrawal."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.i18n import ELDER_COOKIE, LANG_COOKIE, is_english
from app.public import bp, casefile, limits
from app.public.forms import AppealForm, EligibilityForm, MaterialsForm, TrackForm, WithdrawForm
from cases import eligibility, tracking
from cases.materials import MaterialRejected
from cases.models import Appeal
from workflows import lifecycle
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


@bp.route("/appeal/new", methods=["GET", "POST"])
@limits.filing_limit
def new_appeal():
    """The appeal form; reached only through the eligibility check, whose answers it carries."""
    saved = session.get(ELIGIBILITY_KEY)
    if not isinstance(saved, dict):
        flash(_("请先回答几个问题，确认可以申诉。"), "info")
        return redirect(url_for("public.eligibility_check"))
    try:
        answers = eligibility.Answers.from_session(saved)
    except (TypeError, ValueError):
        session.pop(ELIGIBILITY_KEY, None)
        return redirect(url_for("public.eligibility_check"))
    form = AppealForm()
    if request.method == "GET":
        if answers.event_date and not form.event_date.data:
            form.event_date.data = answers.event_date.isoformat()
        if answers.complaint_date and not form.operator_complaint_date.data:
            form.operator_complaint_date.data = answers.complaint_date.isoformat()
        if answers.charging and not form.category.data:
            form.category.data = "charging"
        return render_template("public/appeal_form.html", form=form)
    had_files = bool(casefile.real_files(form.materials.data or []))
    if form.validate_with(answers):
        try:
            filed = casefile.submit_appeal(form.cleaned, form.materials.data or [])
            db.session.commit()
        except MaterialRejected as exc:
            db.session.rollback()
            form.materials.errors = [exc.message]
            return render_template("public/appeal_form.html", form=form, had_files=True), exc.status
        except OSError:
            db.session.rollback()
            form.materials.errors = [_("文件保存失败，请稍后重试。")]
            return render_template("public/appeal_form.html", form=form, had_files=True), 503
        decision = filed.appeal.deadline("decision")
        session.pop(ELIGIBILITY_KEY, None)
        session[RECEIPT_KEY] = {
            "case_no": filed.appeal.case_no,
            "access_code": filed.access_code,
            "decision_due": decision.due_at.isoformat() if decision else None,
            "materials": len(filed.appeal.materials),
        }
        session[TRACKED_KEY] = filed.appeal.id
        return redirect(url_for("public.receipt"))
    return render_template("public/appeal_form.html", form=form, had_files=had_files), 422


@bp.route("/appeal/receipt")
def receipt():
    """The case number and access code, shown this once."""
    data = session.pop(RECEIPT_KEY, None)
    if not isinstance(data, dict):  # already shown: the case page (without the code), or the lookup form
        return redirect(url_for("public.case_status" if session.get(TRACKED_KEY) else "public.track"))
    due = datetime.fromisoformat(data["decision_due"]) if data.get("decision_due") else None
    return _no_store(make_response(render_template("public/receipt.html", receipt=data, decision_due=due)))


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
                return redirect(url_for("public.case_status"))
            limits.mark_failed_lookup()
            form.access_code.errors.append(_("案件编号或查询码不正确。"))
        return render_template("public/track.html", form=form), 422
    return render_template("public/track.html", form=form)


def _tracked() -> Appeal | None:
    case_id = session.get(TRACKED_KEY)
    if not isinstance(case_id, int):
        return None
    return db.session.get(Appeal, case_id)


@bp.route("/track/case")
def case_status():
    """The tracked case: its state in plain words, public timeline, deadlines and materials."""
    appeal = _tracked()
    if appeal is None:
        return redirect(url_for("public.track"))
    view = casefile.case_view(appeal, _lang())
    return _no_store(make_response(render_template("public/case.html", case=view, form=MaterialsForm())))


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
        files = casefile.real_files(form.materials.data or [])
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
