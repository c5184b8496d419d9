"""The sign-in and password forms, and `CleanForm`, the base that drops NUL characters from every input."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length


def drop_nul(value):
    """Remove NUL characters, which PostgreSQL cannot store in text and no person types."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class CleanForm(FlaskForm):
    """A form whose every field drops NUL characters from what was submitted."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            """Add the NUL filter to each field."""
            filters = [drop_nul, *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, **{**options, "filters": filters})


class LoginForm(CleanForm):
    """Username and password."""

    username = StringField(_l("用户名"), validators=[DataRequired(_l("请输入用户名。")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码。")), Length(max=200)])
    submit = SubmitField(_l("登录"))


class PasswordChangeForm(CleanForm):
    """The current password and the new one twice."""

    current = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码。")), Length(max=200)])
    new = PasswordField(
        _l("新密码"),
        validators=[DataRequired(_l("请输入新密码。")), Length(min=10, max=200, message=_l("密码至少10个字符。"))],
    )
    confirm = PasswordField(
        _l("再次输入新密码"),
        validators=[DataRequired(_l("请再次输入新密码。")), EqualTo("new", message=_l("两次输入的新密码不一致。"))],
    )
    submit = SubmitField(_l("修改密码"))
