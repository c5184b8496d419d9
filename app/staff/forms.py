"""The staff console's forms: queue filters, search, notes, reveal, assignment, repeats, and the action forms.

The action forms are built from the lifecycle table's `Field` list by one factory
(`action_form_class`), so a new field in the table appears on the page by itself.
"""

from __future__ import annotations

from functools import cache

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from app.auth.forms import CleanForm
from cases import accounts, codes, contacts, queues, search, states
from cases.models import Operator
from workflows import lifecycle


def code_choices(kind: str, blank: str | None = None) -> list[tuple[str, str]]:
    """(code, name) pairs of a code kind in the page's language, optionally after a blank choice."""
    lang = codes.current_lang()
    rows = [(c.code, codes.localized(c, lang)) for c in codes.ALL[kind].values()]
    return ([("", blank)] if blank is not None else []) + rows


def state_choices(blank: str) -> list[tuple[str, str]]:
    """(state, name) pairs of the lifecycle's states."""
    lang = codes.current_lang()
    return [("", blank)] + [(s.code, codes.localized(s, lang)) for s in lifecycle.STATES.values()]


class GetForm(CleanForm):
    """A form read from the query string (no CSRF token: it changes nothing)."""

    class Meta:
        csrf = False


class QueueFilterForm(GetForm):
    """The filters and the sort order of a queue page."""

    state = SelectField(_l("状态"), validators=[Optional()])
    operator = SelectField(_l("被申诉企业"), validators=[Optional()])
    category = SelectField(_l("申诉类别"), validators=[Optional()])
    received_from = DateField(_l("收到日期（起）"), validators=[Optional()])
    received_to = DateField(_l("收到日期（止）"), validators=[Optional()])
    assignee = SelectField(_l("承办人"), validators=[Optional()])
    overdue = SelectField(_l("是否超期"), validators=[Optional()])
    sort = SelectField(_l("排序"), validators=[Optional()])

    def fill_choices(self, operators: list[Operator], staff: list[tuple[int, str]], states: tuple[str, ...]) -> None:
        """Set the select options (they depend on the language, the data and the queue's states)."""
        self.state.choices = [c for c in state_choices(str(_l("全部"))) if not c[0] or c[0] in states]
        self.operator.choices = [("", str(_l("全部")))] + [(str(o.id), o.display_name) for o in operators]
        self.category.choices = code_choices("category", str(_l("全部")))
        self.assignee.choices = [("", str(_l("全部")))] + [(str(i), name) for i, name in staff]
        self.overdue.choices = [("", str(_l("全部"))), ("1", str(_l("已超期"))), ("0", str(_l("未超期")))]
        self.sort.choices = [
            ("deadline", str(_l("期限（最早在前）"))),
            ("-deadline", str(_l("期限（最晚在前）"))),
            ("received", str(_l("收到时间（最早在前）"))),
            ("-received", str(_l("收到时间（最新在前）"))),
        ]

    def filters(self) -> queues.QueueFilters:
        """The chosen filters (only the valid ones)."""

        def chosen(field: Field) -> str | None:
            """A select's value when it is one of its choices (a forged one is ignored), else None."""
            return field.data if field.data and not field.errors else None

        def as_int(value: str | None) -> int | None:
            """A whole number from a select, or None."""
            return int(value) if value and value.isdigit() else None

        def day(field: Field):
            """A valid date within the years the records can carry, else None."""
            return field.data if not field.errors and contacts.plausible(field.data) else None

        return queues.QueueFilters(
            state=chosen(self.state),
            operator_id=as_int(chosen(self.operator)),
            category=chosen(self.category),
            received_from=day(self.received_from),
            received_to=day(self.received_to),
            assignee_id=as_int(chosen(self.assignee)),
            overdue={"1": True, "0": False}.get(self.overdue.data or ""),
        )


class SearchForm(GetForm):
    """What to search for, and where."""

    q = StringField(_l("查找内容"), validators=[DataRequired(_l("请输入要查找的内容。")), Length(max=200)])
    key = SelectField(_l("查找方式"), validators=[Optional()])

    def fill_choices(self) -> None:
        """The search keys in the page's language."""
        names = {
            "any": _l("全部（案件编号、电话、业务号码、申诉人姓名、事实描述）"),
            "case_no": _l("案件编号（完整或开头部分）"),
            "phone": _l("联系电话"),
            "service_number": _l("业务号码"),
            "name": _l("申诉人姓名（完整姓名）"),
            "facts": _l("事实描述中的词语"),
        }
        self.key.choices = [(k, str(names[k])) for k in search.KEYS]


class NoteForm(CleanForm):
    """An internal note on the timeline."""

    text = TextAreaField(
        _l("内部备注"),
        validators=[DataRequired(_l("请填写备注内容。")), Length(max=5000, message=_l("内容过长（最多5000字）。"))],
    )


PII_FIELDS = ("phone", "service_number", "id_number", "address", "email")


class RevealForm(CleanForm):
    """Which personal field to show in full (or all)."""

    field = HiddenField(validators=[DataRequired()])


class AssignForm(CleanForm):
    """The mediator a supervisor gives the case to."""

    version = HiddenField()
    mediator = SelectField(_l("调解员"), validators=[InputRequired(_l("请选择调解员。"))])


class LegalHoldForm(CleanForm):
    """A supervisor puts a case under legal hold with a reason (set), or lifts it (lift)."""

    version = HiddenField()
    hold = HiddenField(default="set")
    reason = TextAreaField(_l("法律保全理由"), validators=[Length(max=500, message=_l("理由不能超过500字。"))])


class TakeForm(CleanForm):
    """A mediator takes the case."""

    version = HiddenField()


class RepeatForm(CleanForm):
    """The earlier appeal this one repeats."""

    version = HiddenField()
    original = SelectField(_l("与之重复的案件"), validators=[InputRequired(_l("请选择与之重复的案件。"))])


class ActionFormBase(CleanForm):
    """The base of every generated action form: the case version it was rendered at."""

    version = IntegerField(validators=[InputRequired(), NumberRange(min=0)])

    def lifecycle_data(self) -> dict:
        """The values to hand to the engine, as plain values."""
        data = {}
        for name, f in self._fields.items():
            if name in ("version", "csrf_token"):
                continue
            value = f.data
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            data[name] = "" if value is None else value
        return data


def _wtf_field(f: lifecycle.Field) -> Field:
    """The WTForms field for one field of the lifecycle table."""
    label = f.zh
    validators = [InputRequired(_l("此项为必填项。"))] if f.required and f.kind != "bool" else [Optional()]
    if f.kind == "bool":
        return BooleanField(label)
    if f.kind == "date":
        return DateField(label, validators=validators, render_kw={"type": "date"})
    if f.kind == "money":
        return DecimalField(label, places=2, validators=validators + [NumberRange(min=0, max=10_000_000)])
    if f.kind.startswith("choice:") or f.kind == "operator":
        return SelectField(label, validators=validators, validate_choice=False)
    return TextAreaField(label, validators=validators + [Length(max=5000, message=_l("内容过长（最多5000字）。"))])


@cache
def action_form_class(action: str, index: int) -> type[ActionFormBase]:
    """The form class of one row of the lifecycle table (one generic factory, cached per row)."""
    t = lifecycle.TRANSITIONS[index]
    assert t.action == action
    attrs = {f.name: _wtf_field(f) for f in t.fields}
    return type(f"{action.title().replace('_', '')}Form", (ActionFormBase,), attrs)


def action_form(t: lifecycle.Transition, operators: list[Operator], **kwargs) -> ActionFormBase:
    """An instance of the action form of a transition, with its choices and labels in the page's language."""
    form = action_form_class(t.action, lifecycle.TRANSITIONS.index(t))(
        prefix=t.action, meta={"action": t.action}, **kwargs
    )
    lang = codes.current_lang()
    for f in t.fields:
        field = form[f.name]
        field.label.text = codes.localized(f, lang)
        if f.kind.startswith("choice:"):
            field.choices = code_choices(f.kind.split(":", 1)[1], str(_l("请选择")))
        elif f.kind == "operator":
            field.choices = [("", str(_l("不改派")))] + [(o.code, o.display_name) for o in operators]
    return form


PASSWORD_MIN = 10


class UserCreateForm(CleanForm):
    """A new account."""

    username = StringField(
        _l("用户名"),
        validators=[
            DataRequired(_l("请输入用户名。")),
            Length(min=3, max=64, message=_l("用户名长度应为3到64个字符。")),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("用户名只能包含字母、数字、点、下划线和连字符。")),
        ],
    )
    full_name = StringField(_l("姓名"), validators=[DataRequired(_l("请输入姓名。")), Length(max=100)])
    role = SelectField(_l("角色"), validators=[InputRequired(_l("请选择角色。"))])
    operator = SelectField(_l("所属企业（企业联络员必填）"), validators=[Optional()])
    email = StringField(_l("电子邮箱"), validators=[Optional(), Email(_l("请输入有效的电子邮箱。")), Length(max=200)])
    password = PasswordField(
        _l("初始密码"),
        validators=[
            DataRequired(_l("请输入密码。")),
            Length(min=PASSWORD_MIN, max=200, message=_l("密码至少10个字符。")),
        ],
    )

    def fill_choices(self, operators: list[Operator]) -> None:
        """Roles and operators in the page's language."""
        names = role_names()
        self.role.choices = [("", str(_l("请选择")))] + [(r, names[r]) for r in names]
        self.operator.choices = [("", str(_l("无")))] + [(o.code, o.display_name) for o in operators]

    def validate(self, extra_validators=None) -> bool:
        """The field checks, then: an operator liaison needs an operator; staff must not have one."""
        ok = super().validate(extra_validators)
        if self.role.data == states.OPERATOR and not self.operator.data:
            self.operator.errors = [*self.operator.errors, str(_l("企业联络员必须选择所属企业。"))]
            ok = False
        elif self.role.data and self.role.data != states.OPERATOR and self.operator.data:
            self.operator.errors = [*self.operator.errors, str(_l("只有企业联络员需要选择所属企业。"))]
            ok = False
        return ok


def role_names() -> dict[str, str]:
    """The roles with their names in the page's language."""
    return {
        states.CLERK: str(_l("受理员")),
        states.MEDIATOR: str(_l("调解员")),
        states.SUPERVISOR: str(_l("主管")),
        states.ADMIN: str(_l("管理员")),
        states.OPERATOR: str(_l("企业联络员")),
    }


class ActiveForm(CleanForm):
    """Deactivate or reactivate an account."""

    active = HiddenField(validators=[AnyOf(("0", "1"))])


class ResetPasswordForm(CleanForm):
    """A button: the new temporary password is generated and shown once."""

    once = HiddenField()  # a one-time value: a reloaded POST does not reset the password again


class TokenCreateForm(CleanForm):
    """A new API token: whose, and what for."""

    user = SelectField(_l("账户"), validators=[InputRequired(_l("请选择账户。"))])
    label = StringField(_l("用途说明"), validators=[DataRequired(_l("请填写用途说明。")), Length(max=100)])
    scopes = SelectMultipleField(
        _l("权限范围（企业令牌；不选则不限）"),
        choices=[(s, s) for s in accounts.SCOPES],
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
        validate_choice=True,
        render_kw={"class": "checks"},
    )
    once = HiddenField()  # a one-time value: a reloaded POST does not create a second token


class RevokeForm(CleanForm):
    """A button that revokes a token, removes an entered calendar day or signs an account out everywhere (a CSRF
    token and nothing else)."""


class CalendarDaysForm(CleanForm):
    """Days of the official calendar to enter: one day, or a run of days (a holiday of several days)."""

    MAX_DAYS = 31  # the longest run one entry may hold (the Spring Festival is 8 or 9 days)

    start = DateField(_l("日期（起）"), validators=[InputRequired(_l("请填写日期。"))], render_kw={"type": "date"})
    end = DateField(_l("日期（止，可不填）"), validators=[Optional()], render_kw={"type": "date"})
    kind = SelectField(
        _l("类型"),
        choices=[("holiday", _l("放假（不计入工作日）")), ("working", _l("调休上班（计入工作日）"))],
        validators=[InputRequired(_l("请选择类型。"))],
    )
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称，例如“春节”。")), Length(max=40)])

    def validate_end(self, field) -> None:
        """The run ends on or after its first day and holds at most MAX_DAYS days."""
        if field.data is None or self.start.data is None:
            return
        if field.data < self.start.data:
            raise ValidationError(_l("结束日期不能早于开始日期。"))
        if (field.data - self.start.data).days >= self.MAX_DAYS:
            raise ValidationError(_l("一次最多录入 %(n)s 天。", n=self.MAX_DAYS))
