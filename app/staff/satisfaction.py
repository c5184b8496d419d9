"""满意度 on the statistics pages: the satisfaction rate (share of 4–5) and the mean of the cases closed in any
range, overall, by operator and by outcome, web ratings and follow-up calls counted together (`cases.ratings`),
with the rated cases as a drill-down. The admin's notifications page (the development SMS backend's outbox) is
here too."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, render_template, request

from app.extensions import db
from app.i18n import is_english
from app.staff import bp
from app.staff.statistics import _range
from cases import ratings
from cases.models import Notification
from workflows import notifications

NOTIFICATIONS_SHOWN = 200


@bp.route("/statistics/satisfaction")
def statistics_satisfaction():
    """The satisfaction of the cases closed in the range."""
    form, start, end = _range()
    figures = ratings.satisfaction(start, end, "en" if is_english() else "zh") if start is not None else None
    range_args = {"from": form.start.data.isoformat(), "to": form.end.data.isoformat()} if figures else {}
    return render_template("staff/statistics/satisfaction.html", form=form, figures=figures, range_args=range_args)


@bp.route("/statistics/satisfaction/cases")
def statistics_satisfaction_cases():
    """The rated cases behind a satisfaction figure (of an operator or outcome when asked)."""
    form, start, end = _range()
    operator = request.args.get("operator", "")[:32]
    outcome = request.args.get("outcome", "")[:32]
    rows = ratings.rated_cases(start, end, operator, outcome) if start is not None else []
    range_args = {"from": form.start.data.isoformat(), "to": form.end.data.isoformat()} if start else {}
    return render_template("staff/statistics/satisfaction_cases.html", form=form, rows=rows, range_args=range_args)


@bp.route("/admin/notifications")
def admin_notifications():
    """The latest messages the system sent or kept (the development SMS backend's are whole, with a notice)."""
    rows = db.session.scalars(sa.select(Notification).order_by(Notification.id.desc()).limit(NOTIFICATIONS_SHOWN))
    return render_template(
        "staff/admin/notifications.html",
        rows=list(rows),
        dev_backend=notifications.sms_dev_backend(current_app.config),
    )
