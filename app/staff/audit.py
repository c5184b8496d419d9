"""The audit log for supervisors: who looked at full personal data, and who did what to which case.

Both lists are read from the records the rest of the system already writes (`PiiView` when a value is
revealed, `CaseEvent` for every lifecycle action, note and assignment), newest first, filtered by person,
case number and Asia/Shanghai dates, a page at a time.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import render_template, request
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.extensions import db
from app.staff import bp
from app.staff.case_page import actor_kinds, event_names
from app.staff.forms import GetForm
from app.staff.routes import page_number
from cases import states
from cases.models import Appeal, CaseEvent, PiiView, User
from workflows.calendar import local_midnight_utc

PER_PAGE = 50
KINDS = ("pii", "actions")


class AuditFilterForm(GetForm):
    """Which log, whose entries, which case, which days."""

    kind = SelectField(_l("记录类型"), validators=[Optional()])
    user = SelectField(_l("人员"), validators=[Optional()])
    case_no = StringField(_l("案件编号"), validators=[Optional(), Length(max=20)])
    date_from = DateField(_l("日期（起）"), validators=[Optional()])
    date_to = DateField(_l("日期（止）"), validators=[Optional()])

    def fill_choices(self, users: list[User]) -> None:
        """The select options in the page's language."""
        self.kind.choices = [("pii", str(_l("个人信息查看记录"))), ("actions", str(_l("案件操作记录")))]
        self.user.choices = [("", str(_l("全部")))] + [(str(u.id), f"{u.full_name}（{u.username}）") for u in users]


def pii_field_names() -> dict[str, str]:
    """The personal fields a reveal can show, by name."""
    return {
        "phone": str(_l("联系电话")),
        "service_number": str(_l("业务号码")),
        "id_number": str(_l("身份证号码")),
        "address": str(_l("地址")),
        "email": str(_l("电子邮箱")),
        "export": str(_l("导出（全部个人信息和陈述）")),
    }


def _narrow(query: sa.Select, form: AuditFilterForm, at: sa.ColumnElement, who: sa.ColumnElement) -> sa.Select:
    """Apply the valid filters: person, case number (exact), and the inclusive Shanghai date range."""
    if form.user.data and form.user.data.isdigit():
        query = query.where(who == int(form.user.data))
    case_no = (form.case_no.data or "").strip().upper()
    if case_no and not form.case_no.errors:
        query = query.where(Appeal.case_no == case_no)
    if form.date_from.data and not form.date_from.errors:
        query = query.where(at >= local_midnight_utc(form.date_from.data))
    if form.date_to.data and not form.date_to.errors:
        query = query.where(at < local_midnight_utc(form.date_to.data + dt.timedelta(days=1)))
    return query


def _pii_views(form: AuditFilterForm) -> sa.Select:
    query = (
        sa.select(PiiView.at, User.username, User.full_name, User.role, Appeal.case_no, PiiView.field)
        .join(User, User.id == PiiView.user_id)
        .join(Appeal, Appeal.id == PiiView.appeal_id)
        .order_by(PiiView.at.desc(), PiiView.id.desc())
    )
    return _narrow(query, form, PiiView.at, PiiView.user_id)


def _actions(form: AuditFilterForm) -> sa.Select:
    query = (
        sa.select(
            CaseEvent.at,
            User.username,
            User.full_name,
            CaseEvent.actor_kind,
            Appeal.case_no,
            CaseEvent.action,
            CaseEvent.from_state,
            CaseEvent.to_state,
        )
        .join(Appeal, Appeal.id == CaseEvent.appeal_id)
        .outerjoin(User, User.id == CaseEvent.actor_id)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
    )
    return _narrow(query, form, CaseEvent.at, CaseEvent.actor_id)


@bp.route("/audit")
def audit_log():
    """Who revealed which personal data of which case, or who acted on which case: filtered, newest first."""
    staff_first = (User.role == states.OPERATOR, User.full_name)
    users = list(db.session.scalars(sa.select(User).order_by(*staff_first)))
    form = AuditFilterForm(request.args)
    form.fill_choices(users)
    form.validate()
    kind = form.kind.data if form.kind.data in KINDS else "pii"
    form.kind.data = kind
    query = _pii_views(form) if kind == "pii" else _actions(form)
    page = page_number()
    rows = db.session.execute(query.limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).all()
    args = {k: v for k, v in request.args.items() if k in form._fields and v}
    return render_template(
        "staff/audit.html",
        form=form,
        kind=kind,
        rows=rows[:PER_PAGE],
        page=page,
        has_next=len(rows) > PER_PAGE,
        args=args,
        event_names=event_names(),
        actor_kinds=actor_kinds(),
        pii_field_names=pii_field_names(),
    )
