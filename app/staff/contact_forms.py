"""Forms of the contacts pages: a consultation or visit, its conversion into an appeal, a follow-up call."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    DateTimeLocalField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp, ValidationError

from app.auth.forms import CleanForm
from cases import codes, contacts, reference

PHONE = Regexp(r"^\+?[0-9][0-9 \-]{4,19}$", message=_l("请输入有效的电话号码（数字，5到20位）。"))
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def _required() -> DataRequired:
    """The required-field validator with the shared message."""
    return DataRequired(_l("此项为必填项。"))


def not_future(form, field) -> None:
    """A recorded contact or call has already happened (a day of slack for clocks and time zones)."""
    if field.data and field.data > dt.datetime.now() + dt.timedelta(days=1):
        raise ValidationError(_l("时间不能晚于现在。"))


def plausible_date(form, field) -> None:
    """A date or time within 2000-2099 (anything else is a typing error)."""
    if not contacts.plausible(field.data):
        raise ValidationError(_l("日期应在 2000 年至 2099 年之间。"))


def operator_choices(blank: str | None = None) -> list[tuple[str, str]]:
    """The active operators as select options (value = operator code)."""
    rows = [(op.code, op.display_name) for op in reference.active_operators()]
    return ([("", blank)] if blank is not None else []) + rows


def code_choices(kind: str, lang: str) -> list[tuple[str, str]]:
    """A code table as select options in the page's language."""
    return [(c.code, codes.localized(c, lang)) for c in codes.ALL[kind].values()]


class FilterForm(CleanForm):
    """The filters of the contacts list (GET, no CSRF)."""

    class Meta:
        csrf = False

    channel = SelectField(_l("渠道"), validators=[Optional()])
    date_from = DateField(_l("起始日期"), validators=[plausible_date, Optional()])
    date_to = DateField(_l("截止日期"), validators=[plausible_date, Optional()])
    operator = SelectField(_l("涉及运营商"), validators=[Optional()])
    submit = SubmitField(_l("筛选"))


class ContactForm(CleanForm):
    """A phone consultation or a walk-in visit."""

    channel = SelectField(_l("渠道"), validators=[_required()])
    at = DateTimeLocalField(
        _l("时间"), format=LOCAL_FORMATS, validators=[plausible_date, not_future, InputRequired(_l("请填写时间。"))]
    )
    topic = StringField(_l("主题"), validators=[_required(), Length(max=200)])
    operator = SelectField(_l("涉及运营商"), validators=[Optional()])
    person_name = StringField(_l("来电/来访人姓名"), validators=[Optional(), Length(max=100)])
    phone = StringField(_l("联系电话"), validators=[Optional(), PHONE])
    complained_to_operator = RadioField(
        _l("是否已先向运营商投诉（第十三条）"),
        choices=[("yes", _l("是")), ("no", _l("否")), ("na", _l("未涉及（政策咨询等）"))],
        validators=[InputRequired(_l("请选择一项。"))],
    )
    question = TextAreaField(_l("咨询内容"), validators=[_required(), Length(max=5000)])
    answer = TextAreaField(_l("答复内容"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("保存"))


class ConvertForm(CleanForm):
    """The remaining Art. 12 fields when a consultation or visit becomes an appeal."""

    complainant_name = StringField(_l("申诉人姓名"), validators=[_required(), Length(max=100)])
    phone = StringField(_l("联系电话"), validators=[_required(), PHONE])
    address = StringField(_l("通信地址"), validators=[_required(), Length(max=300)])
    postcode = StringField(
        _l("邮政编码"), validators=[_required(), Regexp(r"^[0-9]{6}$", message=_l("邮政编码应为6位数字。"))]
    )
    id_number = StringField(
        _l("身份证号码"),
        validators=[Optional(), Regexp(r"^[0-9]{17}[0-9Xx]$", message=_l("请输入18位身份证号码。"))],
    )
    email = StringField(_l("电子邮箱"), validators=[Optional(), Email(_l("请输入有效的电子邮箱。")), Length(max=200)])
    operator = SelectField(_l("被申诉企业"), validators=[_required()])
    service_type = SelectField(_l("业务类型"), validators=[_required()])
    service_number = StringField(_l("业务号码"), validators=[_required(), Length(max=40)])
    category = SelectField(_l("申诉类别"), validators=[_required()])
    event_date = DateField(_l("事发日期"), validators=[plausible_date, _required()])
    operator_complaint_date = DateField(_l("向运营商投诉日期"), validators=[plausible_date, _required()])
    operator_ticket_no = StringField(_l("运营商投诉工单号"), validators=[Optional(), Length(max=64)])
    request = TextAreaField(_l("申诉请求"), validators=[_required(), Length(max=5000)])
    facts = TextAreaField(_l("事实与理由"), validators=[_required(), Length(max=5000)])
    received_at = DateTimeLocalField(
        _l("收到申诉时间"),
        format=LOCAL_FORMATS,
        validators=[plausible_date, not_future, InputRequired(_l("请填写时间。"))],
    )
    submit = SubmitField(_l("转为申诉"))


class CallForm(CleanForm):
    """A follow-up call on a case."""

    callee = RadioField(
        _l("回访对象"),
        choices=[("consumer", _l("申诉人")), ("operator", _l("被申诉企业"))],
        default="consumer",
        validators=[InputRequired(_l("请选择一项。"))],
    )
    at = DateTimeLocalField(
        _l("回访时间"), format=LOCAL_FORMATS, validators=[plausible_date, not_future, InputRequired(_l("请填写时间。"))]
    )
    reached = RadioField(
        _l("是否接通"),
        choices=[("yes", _l("已接通")), ("no", _l("未接通"))],
        validators=[InputRequired(_l("请选择一项。"))],
    )
    notes = TextAreaField(_l("通话内容"), validators=[Optional(), Length(max=5000)])
    satisfaction = SelectField(
        _l("申诉人满意度（1-5，仅回访申诉人）"),
        choices=[("", "—")] + [(str(i), str(i)) for i in range(1, 6)],
        validators=[Optional()],
    )
    terms_carried_out = RadioField(
        _l("企业是否已履行和解条款"),
        choices=[("yes", _l("已履行")), ("no", _l("未履行"))],
        validators=[Optional()],
    )
    next_call_due = DateField(_l("下次回访日期"), validators=[plausible_date, Optional()])
    submit = SubmitField(_l("保存回访记录"))

    def check_case(self, settled: bool) -> bool:
        """The cross-field rules: satisfaction is the consumer's; a reached call on a settled case answers the terms."""
        ok = True
        if self.satisfaction.data and self.callee.data != "consumer":
            self.satisfaction.errors = [*self.satisfaction.errors, _l("满意度只在回访申诉人时填写。")]
            ok = False
        if settled and self.reached.data == "yes" and self.terms_carried_out.data not in ("yes", "no"):
            self.terms_carried_out.errors = [*self.terms_carried_out.errors, _l("请确认企业是否已履行和解条款。")]
            ok = False
        return ok
