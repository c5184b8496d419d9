"""The operator portal: the appeals referred to the liaison's company, replies, proposals and terms carried out."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.downloads import material_response
from app.extensions import db
from app.operator import bp
from app.operator.forms import OperatorFilterForm, ProposalForm, ReplyForm, TermsDoneForm
from cases import codes, materials, operator_view
from cases.models import Appeal, CaseEvent, Referral, utcnow
from workflows import engine, lifecycle

PER_PAGE = 25


def _operator_id() -> int:
    """The signed-in liaison's company; a liaison account without one sees nothing."""
    if g.user.operator_id is None:  # a liaison account without a company sees nothing
        abort(404)
    return g.user.operator_id


def _appeal_or_404(case_no: str) -> Appeal:
    """A case referred to the liaison's company, else 404 (never 403, so guessing tells nothing)."""
    appeal = operator_view.appeal_for(_operator_id(), case_no)
    if appeal is None:
        abort(404)
    return appeal


def _state_choices() -> list[tuple[str, str]]:
    """The states an operator's case can be in, as select options."""
    return [("", _("全部"))] + [
        (code, codes.localized(lifecycle.STATES[code]))
        for code in ("referred", "replied", "mediating", "settled", "closed", "withdrawn")
    ]


@bp.route("/")
def index():
    """The appeals referred to the liaison's company, with their reply deadlines, filters and pages."""
    op_id = _operator_id()
    form = OperatorFilterForm(request.args)
    form.state.choices = _state_choices()
    form.category.choices = [("", _("全部"))] + [(c.code, codes.localized(c)) for c in codes.CATEGORIES.values()]
    query = (
        sa.select(Appeal, Referral)
        .join(Referral, Referral.id == operator_view.current_referral_id())
        .where(operator_view.visible_to(op_id))
    )
    if form.validate():
        if form.state.data:
            query = query.where(Appeal.status == form.state.data)
        if form.category.data:
            query = query.where(Appeal.category == form.category.data)
        if form.overdue.data == "1":
            query = query.where(Referral.replied_at.is_(None), Referral.due_at < utcnow(), Appeal.status == "referred")
        if form.q.data:
            query = query.where(Appeal.case_no.contains(form.q.data.strip(), autoescape=True))
    query = query.order_by(Referral.due_at, Appeal.id)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 100_000)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "operator/index.html", form=form, rows=rows, total=total, page=page, pages=pages, args=args, now=utcnow()
    )


def _timeline(appeal: Appeal) -> list[CaseEvent]:
    """Public events, plus the internal ones the operator wrote itself (proposals, terms done)."""
    return [e for e in appeal.events if not e.internal or e.actor_kind == "operator"]


def _render_case(appeal: Appeal, *, reply_form=None, proposal_form=None, done_form=None, full_phone=False, status=200):
    """The operator's case page with its forms (as typed after a refused submit)."""
    settlement = operator_view.latest_settlement(appeal)
    return render_template(
        "operator/case.html",
        appeal=appeal,
        referral=operator_view.current_referral(appeal),
        referral_note=operator_view.referral_note(appeal),
        settlement=settlement,
        events=_timeline(appeal),
        reply_form=reply_form or ReplyForm(formdata=None),
        proposal_form=proposal_form or ProposalForm(formdata=None),
        done_form=done_form or TermsDoneForm(formdata=None),
        full_phone=full_phone,
        can_reply=appeal.status == "referred",
        can_propose=appeal.status in ("replied", "mediating"),
        can_report_done=appeal.status == "settled"
        and settlement is not None
        and settlement.agreed_at is not None
        and settlement.operator_reported_done_at is None,
        now=utcnow(),
    ), status


@bp.route("/cases/<case_no>")
def case_detail(case_no: str):
    """One referred appeal, with only what the operator needs."""
    return _render_case(_appeal_or_404(case_no))


@bp.route("/cases/<case_no>/phone", methods=["POST"])
def reveal_phone(case_no: str):
    """Show the consumer's full phone number to call back; the view is audited."""
    appeal = _appeal_or_404(case_no)
    operator_view.record_pii_view(appeal, g.user, "phone")
    db.session.commit()
    return _render_case(appeal, full_phone=True)


@bp.route("/cases/<case_no>/reply", methods=["POST"])
def reply(case_no: str):
    """The operator's reply (the lifecycle's `reply`), with attachments."""
    appeal = _appeal_or_404(case_no)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render_case(appeal, reply_form=form, status=422)
    # The lifecycle first: a stale or refused reply stores no file.
    engine.perform(
        appeal,
        "reply",
        role=lifecycle.OPERATOR,
        actor=g.user,
        data={"text": form.text.data},
        expected_version=request.form.get("version", type=int),
    )
    try:
        for upload in request.files.getlist(form.attachments.name):
            if upload and upload.filename:
                materials.store_material(appeal, upload, source="operator", uploaded_by=g.user)
    except materials.MaterialRejected as exc:
        db.session.rollback()
        form.attachments.errors = [exc.message]
        return _render_case(appeal, reply_form=form, status=exc.status)
    db.session.commit()
    flash(_("答复已提交。"), "success")
    return redirect(url_for("operator.case_detail", case_no=appeal.case_no))


@bp.route("/cases/<case_no>/settlement", methods=["POST"])
def propose_settlement(case_no: str):
    """Propose settlement terms to the mediator."""
    appeal = _appeal_or_404(case_no)
    if appeal.status not in ("replied", "mediating"):
        abort(409)
    form = ProposalForm()
    if not form.validate_on_submit():
        return _render_case(appeal, proposal_form=form, status=422)
    operator_view.propose_settlement(appeal, g.user, **form.terms())
    db.session.commit()
    flash(_("和解方案已提交给调解员。"), "success")
    return redirect(url_for("operator.case_detail", case_no=appeal.case_no))


@bp.route("/cases/<case_no>/terms-done", methods=["POST"])
def terms_done(case_no: str):
    """Report that the agreed terms are carried out; a follow-up call confirms it."""
    appeal = _appeal_or_404(case_no)
    settlement = operator_view.latest_settlement(appeal)
    if appeal.status != "settled" or settlement is None or settlement.agreed_at is None:
        abort(409)
    form = TermsDoneForm()
    if not form.validate_on_submit():
        return _render_case(appeal, done_form=form, status=422)
    operator_view.report_terms_done(appeal, settlement, g.user, (form.note.data or "").strip())
    db.session.commit()
    flash(_("已报告履行完毕，中心将回访确认。"), "success")
    return redirect(url_for("operator.case_detail", case_no=appeal.case_no))


@bp.route("/materials/<int:material_id>")
def material_download(material_id: int):
    """A material of a case referred to this operator."""
    material = operator_view.material_for(_operator_id(), material_id) if material_id < 2**31 else None
    if material is None:
        abort(404)
    return material_response(material)


@bp.context_processor
def _state_label() -> dict:
    """The state's name in the page's language, for the operator templates."""
    return {"state_label": engine.state_name}
