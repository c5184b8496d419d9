"""The forms of phone sign-in (手机号验证), 我的申诉 and the rating; the rules are in `cases.consumers`/`cases.ratings`."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField

from cases import consumers, ratings
from cases.validation import FieldError, clean_text

NOTIFY_CHOICES = [("sms", _l("短信")), ("email", _l("电子邮件")), ("both", _l("短信和电子邮件"))]


class PhoneForm(FlaskForm):
    """The mobile number to send a code to."""

    phone = StringField(
        _l("手机号码"), render_kw={"type": "tel", "inputmode": "numeric", "autocomplete": "tel", "maxlength": 20}
    )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        number = consumers.normalise_mobile(self.phone.data or "")
        if number is None:
            self.phone.errors.append(str(_l("请填写11位手机号码，如 13800138000。")))
            return False
        self.phone.data = number
        return ok


class CodeForm(FlaskForm):
    """The 6-digit code from the SMS."""

    code = StringField(
        _l("短信验证码"),
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6, "pattern": "[0-9]*"},
    )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        code = (self.code.data or "").strip()
        if not (len(code) == consumers.CODE_DIGITS and code.isascii() and code.isdigit()):
            self.code.errors.append(str(_l("请填写短信中的6位数字验证码。")))
            return False
        self.code.data = code
        return ok


class NotifyForm(FlaskForm):
    """How the appellant wants to be told of the case."""

    notify_by = RadioField(_l("通知方式"), choices=NOTIFY_CHOICES, validate_choice=False)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.notify_by.data not in {value for value, _label in NOTIFY_CHOICES}:
            self.notify_by.errors = [str(_l("请选择通知方式。"))]
            return False
        return ok


class RatingForm(FlaskForm):
    """满意度评价: 1–5 and an optional comment."""

    score = RadioField(
        _l("您对本次处理的满意程度"),
        choices=[
            ("5", _l("5 分：非常满意")),
            ("4", _l("4 分：满意")),
            ("3", _l("3 分：一般")),
            ("2", _l("2 分：不满意")),
            ("1", _l("1 分：非常不满意")),
        ],
        validate_choice=False,
    )
    comment = TextAreaField(_l("意见和建议（选填）"), render_kw={"data-maxlength": ratings.COMMENT_LIMIT, "rows": 3})

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.score_value() not in ratings.SCORES:
            self.score.errors = [str(_l("请选择 1 到 5 分的满意程度。"))]
            ok = False
        try:
            self.comment.data = clean_text(self.comment.data or "", max_length=ratings.COMMENT_LIMIT, multiline=True)
        except FieldError as exc:
            self.comment.errors.append(exc.message)
            ok = False
        return ok

    def score_value(self) -> Any:
        return int(self.score.data) if (self.score.data or "").isdigit() else None
