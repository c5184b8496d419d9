"""Operators' webhook endpoints for admins: list, add (secret shown once), rotate, remove, resume, delivery log."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from app.auth.forms import CleanForm
from app.extensions import db
from app.staff import bp
from app.staff.admin import _issue_once, _operators, _spend_once
from app.staff.forms import RevokeForm
from cases import codes, webhooks
from cases.models import WebhookDelivery, WebhookEndpoint
from workflows import webhooks as delivery


class WebhookForm(CleanForm):
    """A new endpoint: the operator, its URL and the events it wants."""

    operator = SelectField(_l("企业"), validators=[InputRequired(_l("请选择企业。"))])
    url = StringField(_l("接收地址（URL）"), validators=[DataRequired(_l("请填写接收地址。")), Length(max=500)])
    events = SelectMultipleField(
        _l("推送的事件"),
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        validators=[DataRequired(_l("请至少选择一个事件。"))],
    )
    once = HiddenField()  # a reloaded POST does not register a second endpoint

    def fill_choices(self) -> None:
        self.operator.choices = [("", _("请选择"))] + [(str(o.id), o.display_name) for o in _operators()]
        self.events.choices = [(e.name, f"{e.name}（{codes.localized(e)}）") for e in webhooks.EVENT_TYPES.values()]

    def validate_url(self, field) -> None:
        if webhooks.url_problem(field.data or ""):
            raise ValidationError(_("请填写以 https:// 开头的地址（仅本机回环地址可以用 http://）。"))


def _render_list(
    form: WebhookForm | None = None, status: int = 200, created: tuple[WebhookEndpoint, str] | None = None
):
    """The endpoints page, with a failed form or a new endpoint's secret to show once."""
    if form is None:
        form = WebhookForm(formdata=None)
        form.fill_choices()
        form.events.data = list(webhooks.EVENT_TYPES)
    form.once.data = _issue_once()
    return render_template(
        "staff/admin/webhooks.html", form=form, endpoints=webhooks.endpoints(), created=created
    ), status


@bp.route("/admin/webhooks")
def admin_webhooks():
    """Every endpoint (never its secret), and the form to add one."""
    return _render_list()


@bp.route("/admin/webhooks/new", methods=["POST"])
def admin_webhook_new():
    """Register an endpoint; its secret is shown this once."""
    form = WebhookForm()
    form.fill_choices()
    if not form.validate():
        return _render_list(form, 422)
    if not _spend_once(form.once.data):
        flash(_("这个表单已经提交过了（例如刷新了页面），没有再次添加。密钥只在添加时显示一次。"), "error")
        return _render_list(status=409)
    operator = next(o for o in _operators() if str(o.id) == form.operator.data)
    endpoint, secret = webhooks.add_endpoint(current_app.config, operator, form.url.data, form.events.data)
    db.session.commit()
    return _render_list(created=(endpoint, secret))


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhooks.endpoint_or_none(endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _render_detail(endpoint: WebhookEndpoint, secret: str | None = None):
    """An endpoint's page: its state, the buttons, and the delivery log."""
    return render_template(
        "staff/admin/webhook_detail.html",
        endpoint=endpoint,
        log=delivery.log(endpoint.id),
        button=RevokeForm(formdata=None),
        once=_issue_once(),
        secret=secret,
        event_types=webhooks.EVENT_TYPES,
    )


@bp.route("/admin/webhooks/<int:endpoint_id>")
def admin_webhook_detail(endpoint_id: int):
    """An endpoint and its delivery log (each attempt: time, status, duration, start of the answer)."""
    return _render_detail(_endpoint_or_404(endpoint_id))


def _button() -> None:
    if not RevokeForm().validate():
        abort(400)


@bp.route("/admin/webhooks/<int:endpoint_id>/rotate", methods=["POST"])
def admin_webhook_rotate(endpoint_id: int):
    """A new secret, shown once; the old one signs beside it for 24 hours."""
    endpoint = _endpoint_or_404(endpoint_id)
    _button()
    if not _spend_once(request.form.get("once")):
        flash(_("这个表单已经提交过了（例如刷新了页面），没有再次更换密钥。"), "error")
        return redirect(url_for("staff.admin_webhook_detail", endpoint_id=endpoint.id))
    secret = webhooks.rotate(current_app.config, endpoint)
    db.session.commit()
    return _render_detail(endpoint, secret)


@bp.route("/admin/webhooks/<int:endpoint_id>/remove", methods=["POST"])
def admin_webhook_remove(endpoint_id: int):
    """Stop sending to the endpoint (its log is kept)."""
    endpoint = _endpoint_or_404(endpoint_id)
    _button()
    webhooks.remove(endpoint)
    db.session.commit()
    flash(_("推送地址已删除。"), "success")
    return redirect(url_for("staff.admin_webhooks"))


@bp.route("/admin/webhooks/<int:endpoint_id>/resume", methods=["POST"])
def admin_webhook_resume(endpoint_id: int):
    """Resume a paused endpoint: the deliveries waiting are sent now."""
    endpoint = _endpoint_or_404(endpoint_id)
    _button()
    waiting = delivery.resume(endpoint)
    db.session.commit()
    flash(_("已恢复推送，%(n)d 个等待中的事件正在发送。", n=waiting), "success")
    return redirect(url_for("staff.admin_webhook_detail", endpoint_id=endpoint.id))


@bp.route("/admin/webhooks/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
def admin_webhook_redeliver(delivery_id: int):
    """Send one event to its endpoint again."""
    row = db.session.scalar(sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id))
    if row is None or row.endpoint.removed_at is not None:
        abort(404)
    _button()
    delivery.redeliver(row)
    db.session.commit()
    flash(_("事件 %(id)s 已重新发送。", id=row.event.public_id), "success")
    return redirect(url_for("staff.admin_webhook_detail", endpoint_id=row.endpoint_id))
