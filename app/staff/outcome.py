"""What the centre tells the appellant from the case page: the operator's reply, forwarded in the centre's words."""

from __future__ import annotations

from flask import flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from app.auth.forms import CleanForm
from app.extensions import db
from app.staff import bp
from app.staff.case_page import load_appeal, render_case
from cases import outcome
from workflows import outbox


class ForwardReplyForm(CleanForm):
    """The operator's reply as the appellant will read it (the mediator may reword it)."""

    text = TextAreaField(
        _l("转达给申诉人的内容"),
        validators=[
            DataRequired(_l("请填写转达给申诉人的内容。")),
            Length(max=5000, message=_l("内容过长（最多5000字）。")),
        ],
    )


@bp.route("/cases/<case_no>/forward-reply", methods=["POST"])
def case_forward_reply(case_no: str):
    """Forward the operator's reply to the appellant: shown on the tracking page and sent by SMS/e-mail."""
    appeal = load_appeal(case_no)
    form = ForwardReplyForm()
    if not form.validate():
        # 422 with the message at the top and beside the field, the form open with what was typed
        return render_case(appeal, message=" ".join(map(str, form.text.errors)), status=422, forward_form=form)
    try:
        event = outcome.forward_reply(appeal, form.text.data, g.user)
    except outcome.ReportRefused as exc:
        db.session.rollback()
        return render_case(appeal, message=exc.message, status=409)
    outbox.record("notify_case_event", {"event_id": event.id}, dedupe_key=f"notify-event-{event.id}")
    db.session.commit()
    flash(_("已把企业的答复转达给申诉人。"), "success")
    return redirect(url_for("staff.case_detail", case_no=case_no, _anchor="h-referrals"))


@bp.app_template_global()
def reply_clock_status(appeal) -> list[str | None]:
    """For the case page's clocks: whether a stopped "答复申诉人" clock was a reply or a withdrawal."""
    return outcome.reply_clock_status(appeal)
