"""Staff record materials that came by post or at the counter: a scan or file upload, or a paper item described."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import DateField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Optional

from app.auth.forms import CleanForm
from app.extensions import db
from app.staff import bp
from app.staff.case_page import load_appeal
from cases import recorded_materials
from cases.models import utcnow
from workflows.calendar import local_date


class RecordMaterialForm(CleanForm):
    """What arrived, how and when; a file for a scan, a description for a paper item."""

    kind = RadioField(
        _l("材料形式"),
        choices=[("upload", _l("上传扫描件或文件")), ("paper", _l("纸质材料（不上传，登记说明）"))],
        validators=[InputRequired(_l("请选择材料形式。"))],
        default="upload",
    )
    arrived_by = RadioField(
        _l("递交方式"),
        choices=[("post", _l("邮寄")), ("counter", _l("窗口递交"))],
        validators=[InputRequired(_l("请选择材料的递交方式（邮寄或窗口递交）。"))],
    )
    received_on = DateField(_l("收到日期"), validators=[Optional()], render_kw={"type": "date"})
    file = FileField(_l("文件"))
    description = TextAreaField(_l("材料说明"), validators=[Optional()])


def _page(appeal, form: RecordMaterialForm, message: str | None = None, status: int = 200):
    return (
        render_template("staff/material_record.html", appeal=appeal, form=form, message=message),
        status,
    )


@bp.route("/cases/<case_no>/materials/record", methods=["GET", "POST"])
def material_record(case_no: str):
    """Record an item that came by post or at the counter; it counts in 用户提交材料."""
    appeal = load_appeal(case_no)
    form = RecordMaterialForm()
    if request.method == "GET":
        form.received_on.data = local_date(utcnow())
        return _page(appeal, form)
    if not form.validate():
        return _page(appeal, form, _("请检查填写的内容。"), 422)
    try:
        if form.kind.data == "paper":
            material = recorded_materials.record_paper(
                appeal,
                description=form.description.data or "",
                arrived_by=form.arrived_by.data,
                received_on=form.received_on.data,
                user=g.user,
            )
        else:
            material = recorded_materials.record_upload(
                appeal,
                form.file.data,
                arrived_by=form.arrived_by.data,
                received_on=form.received_on.data,
                user=g.user,
                description=form.description.data or "",
            )
        db.session.commit()
    except recorded_materials.MaterialNotRecorded as exc:
        db.session.rollback()
        for name, errors in exc.errors.items():
            getattr(form, name).errors = list(errors)
        message = exc.message
        if "file" not in exc.errors and form.kind.data == "upload":
            message = _("%(message)s 文件没有保存，改正后请重新选择文件。", message=exc.message)
        return _page(load_appeal(case_no), form, message, exc.status)
    flash(_("已登记材料：%(name)s", name=material.original_name), "success")
    return redirect(url_for("staff.case_detail", case_no=case_no, _anchor="h-materials"))
