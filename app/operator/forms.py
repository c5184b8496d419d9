"""Forms of the operator portal: list filters, reply, settlement proposal, terms carried out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, DecimalField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.auth.forms import CleanForm


class OperatorFilterForm(CleanForm):
    """Filters of the operator's case list (GET, no CSRF)."""

    class Meta:
        csrf = False

    state = SelectField(_l("状态"), validators=[Optional()])
    overdue = SelectField(
        _l("答复期限"), choices=[("", _l("全部")), ("1", _l("仅显示已超期"))], validators=[Optional()]
    )
    category = SelectField(_l("申诉类别"), validators=[Optional()])
    q = StringField(_l("案件编号"), validators=[Optional(), Length(max=40)])


class ReplyForm(CleanForm):
    """The operator's reply to a referred appeal, with attachments."""

    text = TextAreaField(
        _l("答复内容"),
        validators=[DataRequired(_l("请填写答复内容。")), Length(max=5000, message=_l("内容过长（最多5000字）。"))],
    )
    attachments = MultipleFileField(_l("附件（可选）"))


class ProposalForm(CleanForm):
    """Settlement terms the operator proposes to the mediator."""

    refund_amount = DecimalField(
        _l("退费/补偿金额（元）"),
        places=2,
        validators=[Optional(), NumberRange(min=0, max=10_000_000, message=_l("金额应在 0 到 10000000 元之间。"))],
    )
    service_restored = BooleanField(_l("恢复服务"))
    apology = BooleanField(_l("赔礼道歉"))
    other_terms = TextAreaField(_l("其他条款"), validators=[Optional(), Length(max=5000)])
    perform_by = DateField(_l("履行期限"), validators=[DataRequired(_l("请填写履行期限。"))])

    def validate_perform_by(self, field) -> None:
        """A date in the past makes no sense for a proposal."""
        if field.data and field.data < dt.date.today() - dt.timedelta(days=1):
            raise ValidationError(_l("履行期限不能早于今天。"))
        if field.data and field.data.year > 2099:
            raise ValidationError(_l("日期应在 2000 年至 2099 年之间。"))

    def terms(self) -> dict:
        """The terms as Settlement columns."""
        return {
            "refund_amount": self.refund_amount.data or Decimal("0"),
            "service_restored": bool(self.service_restored.data),
            "apology": bool(self.apology.data),
            "other_terms": (self.other_terms.data or "").strip(),
            "perform_by": self.perform_by.data,
        }


class TermsDoneForm(CleanForm):
    """The operator reports that the agreed terms are carried out."""

    note = TextAreaField(_l("履行情况说明"), validators=[Optional(), Length(max=2000)])
