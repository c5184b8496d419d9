"""The early-warning pages (异常预警): the alerts, the cases behind each, acknowledgement with a note."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from app.auth.forms import CleanForm
from app.extensions import db
from app.staff import bp
from cases import alerts
from cases.models import Alert


class AcknowledgeForm(CleanForm):
    """What the supervisor found or did about the alert."""

    note = TextAreaField(
        _l("处理说明"),
        filters=[lambda text: text.strip() if isinstance(text, str) else text],
        validators=[
            DataRequired(_l("请写明核查情况或采取的措施。")),
            Length(max=5000, message=_l("内容过长（最多5000字）。")),
        ],
    )


def _alert_or_404(alert_id: int) -> Alert:
    if alert_id > 2**31 - 1:
        abort(404)
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        abort(404)
    return alert


@bp.route("/alerts")
def alerts_page():
    """Open alerts first, then the latest acknowledged ones; the method in one sentence."""
    return render_template(
        "staff/statistics/alerts.html",
        open_alerts=alerts.open_alerts(),
        recent=[a for a in alerts.recent_alerts() if a.acknowledged_at is not None],
        alpha=alerts.ALPHA,
        min_count=alerts.MIN_COUNT,
        weeks=alerts.WEEKS_BEFORE,
    )


def _detail(alert: Alert, form: AcknowledgeForm, status: int = 200):
    return (
        render_template("staff/statistics/alert.html", alert=alert, cases=alerts.cases_behind(alert), form=form),
        status,
    )


@bp.route("/alerts/<int:alert_id>")
def alert_detail(alert_id: int):
    """One alert: the week against the 12 before, and the cases it counted."""
    return _detail(_alert_or_404(alert_id), AcknowledgeForm(formdata=None))


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
def alert_acknowledge(alert_id: int):
    """Acknowledge with a note: the operator × category stays quiet for four weeks."""
    alert = _alert_or_404(alert_id)
    form = AcknowledgeForm()
    if not form.validate():
        return _detail(alert, form, 422)
    if alerts.acknowledge(alert, g.user, form.note.data):
        db.session.commit()
        flash(_("已确认预警；四周内同一企业同一类别不再预警。"), "success")
    else:
        flash(_("该预警已确认过。"), "error")
    return redirect(url_for("staff.alert_detail", alert_id=alert.id))
