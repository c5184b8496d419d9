"""The staff case page and what is done on it: lifecycle actions, internal notes, revealing personal data,
assignment, marking a repeat appeal, and the materials (download and a sandboxed preview)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.downloads import material_response
from app.extensions import db
from app.staff import bp
from app.staff.forms import (
    PII_FIELDS,
    ActionFormBase,
    AssignForm,
    LegalHoldForm,
    NoteForm,
    RepeatForm,
    RevealForm,
    TakeForm,
    action_form,
)
from app.staff.nav import has_endpoint
from cases import assignment, duplicates, recorded_materials, retention, states
from cases.models import Appeal, CaseEvent, Material, Operator, PiiView, Referral, Settlement, User, utcnow
from workflows import engine, lifecycle

PREVIEWABLE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"})
REPEAT_STATES = ("received", "awaiting_materials")


def event_names() -> dict[str, str]:
    """Names of the case events that are not lifecycle actions."""
    return {
        "note": _("内部备注"),
        "assign": _("分派承办人"),
        "mark_repeat": _("标记为重复申诉"),
        "record_material": _("登记材料"),
        "legal_hold": _("法律保全"),
        "legal_hold_lifted": _("解除法律保全"),
    }


def actor_kinds() -> dict[str, str]:
    """Names of who acted, when the event has no signed-in actor."""
    return {"consumer": _("申诉人"), "staff": _("工作人员"), "operator": _("被申诉企业"), "system": _("系统")}


def load_appeal(case_no: str) -> Appeal:
    """The case with everything its page shows, or 404."""
    if "\x00" in case_no or len(case_no) > 20:
        abort(404)
    appeal = db.session.scalar(
        sa.select(Appeal)
        .where(Appeal.case_no == case_no)
        .options(
            selectinload(Appeal.events).joinedload(CaseEvent.actor),
            selectinload(Appeal.materials),
            selectinload(Appeal.deadlines),
            selectinload(Appeal.operator),
            selectinload(Appeal.assignee),
            selectinload(Appeal.repeat_of),
        )
    )
    if appeal is None:
        abort(404)
    return appeal


def _operators() -> list[Operator]:
    """The active operators, for the re-referral choice."""
    return list(db.session.scalars(sa.select(Operator).where(Operator.active).order_by(Operator.id)))


def render_case(
    appeal: Appeal,
    *,
    submitted: ActionFormBase | None = None,
    note_form: NoteForm | None = None,
    assign_form: AssignForm | None = None,
    repeat_form: RepeatForm | None = None,
    hold_form: LegalHoldForm | None = None,
    revealed: frozenset[str] = frozenset(),
    message: str | None = None,
    status: int = 200,
    forward_form: Any = None,
):
    """Render the case page; a submitted form is shown again with what was typed and its errors."""
    operators = _operators()
    forms = []
    submitted_action = submitted.meta.action if submitted is not None else None
    for t in lifecycle.allowed_actions(appeal.status, g.user.role):
        if t.action == submitted_action:
            forms.append((t, submitted))
        else:
            forms.append((t, action_form(t, operators, formdata=None, data={"version": appeal.version})))
    similar = duplicates.similar_appeals(appeal)
    repeat_form = repeat_form or RepeatForm(formdata=None, version=appeal.version)
    repeat_form.original.choices = [("", _("请选择"))] + [(a.case_no, a.case_no) for a in similar]
    assign_form = assign_form or AssignForm(formdata=None, version=appeal.version)
    assign_form.mediator.choices = [("", _("请选择"))] + [(str(u.id), u.full_name) for u in assignment.mediators()]
    open_case = states.is_open(appeal.status)
    body = render_template(
        "staff/case.html",
        appeal=appeal,
        action_forms=forms,
        note_form=note_form or NoteForm(formdata=None),
        reveal_form=RevealForm(formdata=None),
        assign_form=assign_form,
        take_form=TakeForm(formdata=None, version=appeal.version),
        hold_form=hold_form or LegalHoldForm(formdata=None, version=appeal.version),
        can_hold=has_endpoint("staff.case_legal_hold") and appeal.anonymised_at is None,
        repeat_form=repeat_form,
        can_assign=open_case and has_endpoint("staff.case_assign"),
        can_take=open_case and has_endpoint("staff.case_take") and appeal.assignee_id != g.user.id,
        can_mark_repeat=appeal.status in REPEAT_STATES and has_endpoint("staff.case_mark_repeat") and bool(similar),
        can_reveal=has_endpoint("staff.case_reveal"),
        can_note=has_endpoint("staff.case_note"),
        submitted_action=submitted_action,
        similar=similar,
        revealed=revealed,
        pii_fields=PII_FIELDS,
        settlements=db.session.scalars(
            sa.select(Settlement).where(Settlement.appeal_id == appeal.id).order_by(Settlement.id)
        ).all(),
        referrals=db.session.scalars(
            sa.select(Referral)
            .where(Referral.appeal_id == appeal.id)
            .options(selectinload(Referral.operator))
            .order_by(Referral.id)
        ).all(),
        event_names=event_names(),
        actor_kinds=actor_kinds(),
        deadline_rules=lifecycle.DEADLINES,
        previewable=PREVIEWABLE,
        arrived_by_names=recorded_materials.arrived_by_names(),
        message=message,
        forward_form=forward_form,
        now=utcnow(),
    )
    return body, status


@bp.route("/cases/<case_no>")
def case_detail(case_no: str):
    """The case page: every field (personal data masked), materials, timeline, deadlines and the actions."""
    return render_case(load_appeal(case_no))


@bp.route("/cases/<case_no>/actions/<action>", methods=["POST"])
def case_action(case_no: str, action: str):
    """Take a lifecycle action through the engine; a refusal is shown on the case page with the form as typed."""
    if action not in lifecycle.ACTIONS:
        abort(404)
    appeal = load_appeal(case_no)
    allowed = lifecycle.transition_for(action, appeal.status)
    t = allowed or next(x for x in lifecycle.TRANSITIONS if x.action == action)
    form = action_form(t, _operators())
    # A refusal by the table (state 409, role 403) comes before any complaint about the fields.
    refused = allowed is None or g.user.role not in allowed.roles
    if not refused and not form.validate():
        return render_case(appeal, submitted=form, message=_("请检查填写的内容。"), status=422)
    try:
        engine.perform(
            appeal,
            action,
            role=g.user.role,
            actor=g.user,
            data=form.lifecycle_data(),
            expected_version=form.version.data,
        )
        db.session.commit()
    except engine.InvalidFields as exc:
        db.session.rollback()
        for name, errors in exc.errors.items():
            if name in form:
                form[name].errors = list(errors)
        return render_case(load_appeal(case_no), submitted=form, message=exc.message, status=422)
    except (engine.LifecycleError, StaleDataError) as exc:
        db.session.rollback()
        status = getattr(exc, "status", 409)
        message = getattr(exc, "message", None) or _("案件已被他人更新，请刷新页面后重试。")
        appeal = load_appeal(case_no)
        if status == 409:
            form.version.data = appeal.version  # the page now shows the current case; resubmitting is a new decision
        return render_case(appeal, submitted=form, message=message, status=status)
    flash(_("已完成：%(action)s", action=_action_name(action)), "success")
    return redirect(url_for("staff.case_detail", case_no=case_no))


def _action_name(action: str) -> str:
    """The name of a lifecycle action in the page's language."""
    from app.i18n import code_name

    return code_name(action, "action")


@bp.route("/cases/<case_no>/notes", methods=["POST"])
def case_note(case_no: str):
    """Add an internal note to the timeline (no change of state; never shown to the appellant)."""
    appeal = load_appeal(case_no)
    form = NoteForm()
    if not form.validate():
        return render_case(appeal, note_form=form, message=_("请检查填写的内容。"), status=422)
    engine.add_note(appeal, form.text.data.strip(), g.user)
    db.session.commit()
    flash(_("备注已添加。"), "success")
    return redirect(url_for("staff.case_detail", case_no=case_no, _anchor="timeline"))


@bp.route("/cases/<case_no>/reveal", methods=["POST"])
def case_reveal(case_no: str):
    """Show one personal field (or all) in full to the handling staff; every viewing is recorded."""
    appeal = load_appeal(case_no)
    form = RevealForm()
    choice = form.field.data if form.validate() else None
    if choice not in PII_FIELDS + ("all",):
        abort(400)
    fields = PII_FIELDS if choice == "all" else (choice,)
    now = utcnow()
    for name in fields:
        db.session.add(PiiView(appeal_id=appeal.id, user_id=g.user.id, field=name, at=now))
    db.session.commit()
    return render_case(load_appeal(case_no), revealed=frozenset(fields))


def _version_matches(form: Any, appeal: Appeal) -> bool:
    """True when the form was rendered at the case's current version."""
    return str(form.version.data or "") == str(appeal.version)


def _commit_or_stale(case_no: str, done_message: str):
    """Commit and go back to the case page, or show the page with 409 when someone saved first."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return render_case(load_appeal(case_no), message=_("案件已被他人更新，请刷新页面后重试。"), status=409)
    flash(done_message, "success")
    return redirect(url_for("staff.case_detail", case_no=case_no))


@bp.route("/cases/<case_no>/assign", methods=["POST"])
def case_assign(case_no: str):
    """A supervisor gives the case to a mediator (audited; no change of state)."""
    appeal = load_appeal(case_no)
    form = AssignForm()
    form.mediator.choices = [(str(u.id), u.full_name) for u in assignment.mediators()]
    if not form.validate():
        return render_case(appeal, assign_form=form, message=_("请选择调解员。"), status=422)
    if not _version_matches(form, appeal):
        return render_case(appeal, message=_("案件已被他人更新，请刷新页面后重试。"), status=409)
    mediator = db.session.get(User, int(form.mediator.data))
    try:
        assignment.assign(appeal, mediator, g.user)
    except assignment.NotAssignable:
        db.session.rollback()
        return render_case(load_appeal(case_no), message=_("不能分派给该人员。"), status=409)
    return _commit_or_stale(case_no, _("已分派给%(name)s。", name=mediator.full_name))


@bp.route("/cases/<case_no>/legal-hold", methods=["POST"])
def case_legal_hold(case_no: str):
    """A supervisor puts the case under legal hold with a reason, or lifts it: the retention job skips a held case
    (cases/retention.py; audited on the timeline; no change of state)."""
    appeal = load_appeal(case_no)
    form = LegalHoldForm()
    if not _version_matches(form, appeal):
        return render_case(appeal, message=_("案件已被他人更新，请刷新页面后重试。"), status=409)
    if form.hold.data == "lift":
        retention.lift_legal_hold(appeal, g.user)
        return _commit_or_stale(case_no, _("已解除法律保全。"))
    reason = (form.reason.data or "").strip()
    if not form.validate() or not reason:
        if not reason and not form.reason.errors:
            form.reason.errors = [_("请填写法律保全的理由。")]
        return render_case(appeal, hold_form=form, message=_("请检查填写的内容。"), status=422)
    retention.set_legal_hold(appeal, g.user, reason)
    return _commit_or_stale(case_no, _("已设为法律保全：保存期限届满后也不会删除本案的个人信息。"))


@bp.route("/cases/<case_no>/take", methods=["POST"])
def case_take(case_no: str):
    """A mediator takes the case ("我来办理"; audited; no change of state)."""
    appeal = load_appeal(case_no)
    form = TakeForm()
    if not form.validate() or not _version_matches(form, appeal):
        return render_case(appeal, message=_("案件已被他人更新，请刷新页面后重试。"), status=409)
    try:
        assignment.assign(appeal, g.user, g.user)
    except assignment.NotAssignable:
        db.session.rollback()
        return render_case(load_appeal(case_no), message=_("已办结的案件不能再分派。"), status=409)
    return _commit_or_stale(case_no, _("您已开始办理此案件。"))


@bp.route("/cases/<case_no>/repeat", methods=["POST"])
def case_mark_repeat(case_no: str):
    """Mark the appeal as a repeat of an earlier one (Art. 11(3)); audited, no change of state."""
    appeal = load_appeal(case_no)
    similar = duplicates.similar_appeals(appeal)
    form = RepeatForm()
    form.original.choices = [(a.case_no, a.case_no) for a in similar]
    if appeal.status not in REPEAT_STATES:
        return render_case(appeal, message=_("只有待受理的申诉可以标记为重复申诉。"), status=409)
    if not form.validate():
        return render_case(appeal, repeat_form=form, message=_("请选择与之重复的案件。"), status=422)
    if not _version_matches(form, appeal):
        return render_case(appeal, message=_("案件已被他人更新，请刷新页面后重试。"), status=409)
    original = next((a for a in similar if a.case_no == form.original.data), None)
    if original is None:
        return render_case(appeal, repeat_form=form, message=_("请选择与之重复的案件。"), status=422)
    duplicates.mark_repeat(appeal, original, g.user)
    return _commit_or_stale(case_no, _("已标记为 %(case_no)s 的重复申诉。", case_no=original.case_no))


def _material(case_no: str, material_id: int) -> tuple[Appeal, Material]:
    """The case and its stored material with content in its storage, or 404."""
    from cases.materials import has_content  # owned by the public portal's area

    if "\x00" in case_no or len(case_no) > 20:
        abort(404)
    appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    material = db.session.get(Material, material_id)
    if appeal is None or material is None or material.appeal_id != appeal.id or not material.stored_name:
        abort(404)
    if not has_content(material):
        abort(404)
    return appeal, material


def _send(material: Material, *, inline: bool):
    """The material's bytes with its stored type: an attachment, or inline inside a CSP sandbox."""
    return material_response(material, inline=inline)


@bp.route("/cases/<case_no>/materials/<int:material_id>")
def material_download(case_no: str, material_id: int):
    """Download a material item as an attachment, with its stored type."""
    _appeal, material = _material(case_no, material_id)
    return _send(material, inline=False)


@bp.route("/cases/<case_no>/materials/<int:material_id>/preview")
def material_preview(case_no: str, material_id: int):
    """A page that shows an image or PDF material, embedded from the sandboxed inline route."""
    appeal, material = _material(case_no, material_id)
    if material.mime_type not in PREVIEWABLE:
        abort(404)
    return render_template("staff/material_preview.html", appeal=appeal, material=material)


@bp.route("/cases/<case_no>/materials/<int:material_id>/inline")
def material_inline(case_no: str, material_id: int):
    """An image or PDF material served inline under `Content-Security-Policy: sandbox`."""
    _appeal, material = _material(case_no, material_id)
    if material.mime_type not in PREVIEWABLE:
        abort(404)
    return _send(material, inline=True)
