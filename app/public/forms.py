"""The consumer's forms. Their fields carry no rules of their own: `validate` hands the typed values to
`cases.eligibility` / `cases.intake` (the rules the API uses too) and puts each message next to its field."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.widgets import DateInput

from app.public.casefile import today_local
from cases import codes, eligibility, intake, reference
from cases.validation import FieldError, check_not_future, clean_text, parse_bool, parse_date

YES_NO = [("yes", _l("是")), ("no", _l("否"))]
# File names the browser lets through before sending (the server decides by the content, cases.materials).
UPLOAD_EXTENSIONS = "pdf jpg jpeg png doc docx xls xlsx ppt pptx odt ods wps et dps"


def upload_attrs() -> dict[str, Any]:
    """The file field's checks in the browser: allowed names, the size limits and the messages naming a file."""
    config = current_app.config
    return {
        "accept": ",".join(f".{ext}" for ext in UPLOAD_EXTENSIONS.split()),
        "data-allowed-ext": UPLOAD_EXTENSIONS,
        "data-max-file-bytes": config["MAX_FILE_BYTES"],
        "data-max-total-bytes": config["MAX_APPEAL_BYTES"],
        "data-msg-type": _("“{name}”不是可以上传的文件类型。请上传 PDF、JPG、PNG 或 Word/Excel/PowerPoint/WPS 文档。"),
        "data-msg-empty": _("“{name}”是空文件，请重新选择。"),
        "data-msg-size": _("“{name}”有 {size}，超过了每个文件 {max} 的限制。"),
        "data-msg-total": _("所选文件共 {size}，超过了全部材料 {max} 的限制。"),
        "data-msg-chosen": _("已选择：{files}"),
    }


def _required_flag(field: Any) -> None:
    field.flags.required = True


def _code_choices(table: dict[str, codes.Code]) -> list[tuple[str, str]]:
    return [("", _l("请选择"))] + [(c.code, codes.localized(c)) for c in table.values()]


def _yes_no(label) -> RadioField:
    return RadioField(label, choices=YES_NO, validate_choice=False)


class EligibilityForm(FlaskForm):
    """The questions before the appeal form (Art. 10, 11, 13)."""

    complained_to_operator = _yes_no(_l("您是否已经就这个问题向运营商投诉过？"))
    complaint_date = StringField(_l("向运营商投诉的日期"), widget=DateInput())
    operator_replied = _yes_no(_l("运营商是否已经答复您？"))
    satisfied = _yes_no(_l("您对运营商的处理结果满意吗？"))
    event_date = StringField(_l("问题发生的日期"), widget=DateInput())
    charging = _yes_no(_l("是否属于收费争议（如多扣费、乱收费、套餐资费不符）？"))
    court_or_arbitration = _yes_no(_l("人民法院、仲裁机构、消费者协会或其他行政机关是否已经受理或处理过这件事？"))
    settled_and_performed = _yes_no(_l("您是否已经与运营商达成和解，并且运营商已经履行？"))

    answers: eligibility.Answers

    def validate(self, extra_validators=None) -> bool:
        """Read the answers; every question that applies must be answered and every date be a real past date."""
        ok = super().validate(extra_validators)
        today = today_local()
        values: dict[str, Any] = {}
        for name in ("complained_to_operator", "operator_replied", "satisfied", "charging"):
            values[name] = parse_bool(self[name].data)
        for name in ("court_or_arbitration", "settled_and_performed"):
            values[name] = parse_bool(self[name].data)
        for name in ("complaint_date", "event_date"):
            raw = (self[name].data or "").strip()
            values[name] = None
            if raw:
                try:
                    values[name] = check_not_future(parse_date(raw), today)
                except FieldError as exc:
                    self[name].errors.append(exc.message)
                    ok = False
        self.answers = eligibility.Answers(**values)
        # A stop is decided as early as it can be, so a consumer who has not complained is not asked more.
        if eligibility.evaluate(self.answers, today) is not None and not self.errors:
            return ok
        for name in eligibility.missing_answers(self.answers):
            if not self[name].errors:
                self[name].errors.append(str(_l("请回答这个问题。")))
            ok = False
        return ok


class AppealForm(FlaskForm):
    """The appeal itself (Art. 12)."""

    complainant_name = StringField(_l("姓名"), render_kw={"autocomplete": "name"})
    phone = StringField(_l("联系电话"), render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "tel"})
    id_number = StringField(_l("身份证号码（选填）"), render_kw={"autocomplete": "off"})
    address = StringField(_l("联系地址"), render_kw={"autocomplete": "street-address"})
    postcode = StringField(_l("邮政编码"), render_kw={"inputmode": "numeric", "autocomplete": "postal-code"})
    email = StringField(_l("电子邮箱（选填）"), render_kw={"type": "email", "autocomplete": "email"})
    notify_by = RadioField(
        _l("办理进度通知方式"),
        choices=[("both", _l("短信和电子邮件")), ("sms", _l("短信")), ("email", _l("电子邮件"))],
        default=intake.DEFAULT_NOTIFY_BY,
        validate_choice=False,
    )
    operator = SelectField(_l("被申诉的运营商"), validate_choice=False)
    service_type = SelectField(_l("业务类型"), validate_choice=False)
    service_number = StringField(_l("涉及的号码（手机号、固话号或宽带账号）"))
    category = SelectField(_l("申诉类别"), validate_choice=False)
    event_date = StringField(_l("问题发生的日期"), widget=DateInput())
    operator_complaint_date = StringField(_l("向运营商投诉的日期"), widget=DateInput())
    operator_ticket_no = StringField(_l("运营商投诉工单号（选填）"))
    request = TextAreaField(_l("申诉请求（希望如何解决）"))
    facts = TextAreaField(_l("事实和理由"), render_kw={"rows": 8})
    materials = MultipleFileField(_l("证明材料（选填，可多选）"))
    pledge = BooleanField(_l("我承诺所填内容真实，并对其真实性负责。"))
    form_token = HiddenField()  # one appeal per form: a second submission shows the first receipt

    cleaned: dict[str, Any]
    eligibility_errors: list[str]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.operator.choices = [("", _l("请选择"))] + [(o.code, o.name) for o in reference.active_operators()]
        self.service_type.choices = _code_choices(codes.SERVICE_TYPES)
        self.category.choices = _code_choices(codes.CATEGORIES)
        for name in intake.REQUIRED_TEXT + ("operator", "service_type", "category", "event_date"):
            _required_flag(self[name])
        for name in ("operator_complaint_date", "pledge"):
            _required_flag(self[name])
        for name, limit in intake.LIMITS.items():  # a live counter in the browser; the limit is the intake's
            self[name].render_kw = {**(self[name].render_kw or {}), "data-maxlength": limit}
        self.materials.render_kw = upload_attrs()
        self.eligibility_errors = []

    def raw(self) -> dict[str, Any]:
        """What was typed, by the intake's field names."""
        data = {name: self[name].data for name in intake.FIELDS if name != "pledge"}
        data["pledge"] = bool(self.pledge.data)
        return data

    def validate_with(self, answers: eligibility.Answers, extra_validators=None) -> bool:
        """Check every field with the intake rules, then the eligibility rules with the form's dates."""
        ok = super().validate(extra_validators)
        today = today_local()
        try:
            self.cleaned = intake.clean_appeal(self.raw(), today)
            intake.check_eligibility(answers, self.cleaned, today)
        except intake.IntakeErrors as exc:
            for name, messages in exc.errors.items():
                if name in self._fields:
                    self[name].errors = list(self[name].errors) + messages
                else:
                    self.eligibility_errors.extend(messages)
            return False
        return ok


class TrackForm(FlaskForm):
    """Case number and access code."""

    case_no = StringField(_l("案件编号"), render_kw={"autocomplete": "off", "autocapitalize": "characters"})
    access_code = StringField(
        _l("查询码"), render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
    )

    def validate(self, extra_validators=None) -> bool:
        """Both must be given; whether they match is decided by the lookup."""
        ok = super().validate(extra_validators)
        for name in ("case_no", "access_code"):
            try:
                self[name].data = clean_text(self[name].data, max_length=64)
            except FieldError as exc:
                self[name].errors.append(exc.message)
                ok = False
                continue
            if not self[name].data:
                self[name].errors.append(str(_l("此项为必填项。")))
                ok = False
        return ok


def _clean_long_text(field: Any, limit: int, required: Any = None) -> bool:
    """Clean a long text field in place; too long (never cut) or, when `required` says so, empty is an error."""
    try:
        field.data = clean_text(field.data, max_length=limit, multiline=True)
    except FieldError as exc:
        field.errors.append(exc.message)
        return False
    if required is not None and not field.data:
        field.errors.append(str(required))
        return False
    return True


class MaterialsForm(FlaskForm):
    """Files added to an open case."""

    materials = MultipleFileField(_l("选择文件（可多选）"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.materials.render_kw = upload_attrs()


class WithdrawForm(FlaskForm):
    """Withdrawal (撤回): the reason, then a confirmation step."""

    reason = TextAreaField(_l("撤回原因"), render_kw={"data-maxlength": 1000})
    confirm = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        """A reason is required (at most 1000 characters)."""
        return super().validate(extra_validators) & _clean_long_text(self.reason, 1000, _l("请填写撤回原因。"))


class ReportForm(FlaskForm):
    """ "企业没有履行": what the operator has not done (optional, at most 500 characters)."""

    text = TextAreaField(_l("哪些条款没有履行（选填）"), render_kw={"data-maxlength": 500, "rows": 3})

    def validate(self, extra_validators=None) -> bool:
        """The text is cleaned; too long is refused with the limit (never cut)."""
        return super().validate(extra_validators) & _clean_long_text(self.text, 500)
