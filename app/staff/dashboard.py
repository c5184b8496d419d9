"""The supervisor dashboard: cases by state, overdue cases by clock, each person's workload in a period; every
count links to the list of the cases it counts (`cases.dashboard`)."""

from __future__ import annotations

import datetime as dt

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField
from wtforms.validators import Optional

from app.extensions import db
from app.staff import bp
from app.staff.forms import GetForm
from app.staff.routes import _case_rows, page_number
from app.staff.statistics import weeks_context
from cases import codes, dashboard, queues
from cases.models import User, utcnow
from workflows import calendar, lifecycle


class PeriodForm(GetForm):
    """The days (Asia/Shanghai, inclusive) the workload counts."""

    date_from = DateField(_l("日期（起）"), validators=[Optional()])
    date_to = DateField(_l("日期（止）"), validators=[Optional()])


def _period(form: PeriodForm) -> tuple[dashboard.Period, dt.date, dt.date]:
    """The chosen days, by default this month so far; as UTC bounds and as the days shown."""
    today = calendar.local_date(utcnow())
    first = form.date_from.data if form.date_from.data and not form.date_from.errors else today.replace(day=1)
    last = form.date_to.data if form.date_to.data and not form.date_to.errors else today
    if last < first:
        first, last = last, first
    start = calendar.local_midnight_utc(first)
    end = calendar.local_midnight_utc(last + dt.timedelta(days=1))
    return dashboard.Period(start, end), first, last


@bp.route("/dashboard", endpoint="dashboard")
def dashboard_page():
    """Counts by state, overdue cases by clock, and each person's open cases and cases acted on in the period."""
    form = PeriodForm(request.args)
    form.validate()
    period, first, last = _period(form)
    form.date_from.data, form.date_to.data = first, last
    return render_template(
        "staff/dashboard.html",
        **weeks_context(),
        form=form,
        by_state=queues.state_counts(),
        overdue=dashboard.overdue_counts(),
        workload=dashboard.workload(period),
        states=lifecycle.STATES,
        deadlines=lifecycle.DEADLINES,
        period_args={"date_from": first.isoformat(), "date_to": last.isoformat()},
    )


def _title(figure: str, value: str, first: dt.date, last: dt.date) -> str:
    """What a drill-down list holds, in the page's language."""
    if figure == "state":
        state = lifecycle.STATES.get(value)
        return _("状态为“%(state)s”的案件", state=codes.localized(state) if state else value)
    if figure == "overdue":
        rule = lifecycle.DEADLINES.get(value)
        return _("“%(kind)s”期限已超期的在办案件", kind=codes.localized(rule) if rule else value)
    user = db.session.get(User, int(value))
    name = user.full_name if user else value
    if figure == "assigned":
        return _("%(name)s 承办的在办案件", name=name)
    return _("%(name)s 在 %(first)s 至 %(last)s 办理过的案件", name=name, first=first, last=last)


@bp.route("/dashboard/cases")
def dashboard_cases():
    """The cases behind one figure of the dashboard (the same condition that counted them)."""
    figure, value = request.args.get("figure", ""), request.args.get("value", "")
    form = PeriodForm(request.args)
    form.validate()
    period, first, last = _period(form)
    where = dashboard.condition(figure, value, period) if figure in dashboard.FIGURES else None
    if where is None:
        abort(404)
    select = dashboard.case_select(where)
    pagination = queues.page_of(select, [where], page_number())
    args = {"figure": figure, "value": value, "date_from": first.isoformat(), "date_to": last.isoformat()}
    return render_template(
        "staff/dashboard_cases.html",
        title=_title(figure, value, first, last),
        pagination=pagination,
        args=args,
        **_case_rows(pagination),
    )
