"""Account and API-token management for admins: list, create, deactivate, reset passwords, tokens shown once."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, session, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.staff import bp
from app.staff.forms import ActiveForm, ResetPasswordForm, RevokeForm, TokenCreateForm, UserCreateForm, role_names
from cases import accounts
from cases.models import ApiToken, Operator, User

ONCE_KEY = "admin_once"
ONCE_KEPT = 5  # outstanding one-time values per session (a few open tabs)


def _issue_once() -> str:
    """A one-time value for a form that shows a secret once; kept in the signed session until spent."""
    value = secrets.token_urlsafe(16)
    session[ONCE_KEY] = [*session.get(ONCE_KEY, [])[-(ONCE_KEPT - 1) :], value]
    return value


def _spend_once(value: str | None) -> bool:
    """True the first time a rendered form's one-time value comes back; False on a reload or a replay."""
    pending = list(session.get(ONCE_KEY, []))
    if not value or value not in pending:
        return False
    pending.remove(value)
    session[ONCE_KEY] = pending
    return True


def _operators() -> list[Operator]:
    """The active operators, for a liaison account."""
    return list(db.session.scalars(sa.select(Operator).where(Operator.active).order_by(Operator.id)))


def _users() -> list[User]:
    """Every account, by role and username."""
    return list(db.session.scalars(sa.select(User).order_by(User.role, User.username)))


def _render_users(form: UserCreateForm | None = None, status: int = 200, temporary: tuple[User, str] | None = None):
    """The accounts page, with a failed form or a temporary password to show once."""
    if form is None:
        form = UserCreateForm(formdata=None)
        form.fill_choices(_operators())
    return render_template(
        "staff/admin/users.html",
        form=form,
        users=_users(),
        active_form=ActiveForm(formdata=None),
        reset_form=ResetPasswordForm(formdata=None, once=_issue_once()),
        temporary=temporary,
        role_names=role_names(),
    ), status


@bp.route("/admin/users")
def admin_users():
    """Every account, and the form to create one."""
    return _render_users()


@bp.route("/admin/users/new", methods=["POST"])
def admin_user_new():
    """Create an account (staff role, or an operator liaison tied to one operator)."""
    form = UserCreateForm()
    form.fill_choices(_operators())
    if not form.validate():
        return _render_users(form, 422)
    username = form.username.data.strip()
    if db.session.scalar(sa.select(User.id).where(sa.func.lower(User.username) == username.lower())) is not None:
        form.username.errors = [_("该用户名已被使用。")]
        return _render_users(form, 422)
    accounts.create_user(
        username,
        form.password.data,
        form.role.data,
        form.full_name.data.strip(),
        form.operator.data or None,
        email=(form.email.data or "").strip(),
    )
    db.session.commit()
    flash(_("账户 %(username)s 已创建。", username=username), "success")
    return redirect(url_for("staff.admin_users"))


def _user_or_404(user_id: int) -> User:
    """The account with this id, or 404."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/admin/users/<int:user_id>/active", methods=["POST"])
def admin_user_active(user_id: int):
    """Deactivate (or reactivate) an account; a deactivated account cannot sign in or use its tokens."""
    user = _user_or_404(user_id)
    form = ActiveForm()
    if not form.validate():
        abort(400)
    if user.id == g.user.id:
        flash(_("不能停用自己的账户。"), "error")
        return redirect(url_for("staff.admin_users"))
    user.active = form.active.data == "1"
    if not user.active:
        accounts.end_sessions(user)  # signed out at once, not at the next sign-in
    if user.active:
        user.failed_logins = 0
        user.locked_until = None
    db.session.commit()
    message = _("账户 %(username)s 已启用。") if user.active else _("账户 %(username)s 已停用。")
    flash(message % {"username": user.username}, "success")
    return redirect(url_for("staff.admin_users"))


@bp.route("/admin/users/<int:user_id>/sessions", methods=["POST"])
def admin_user_sessions(user_id: int):
    """Sign an account out everywhere (全部退出登录), e.g. after a lost phone; the account stays usable."""
    user = _user_or_404(user_id)
    if not RevokeForm().validate():
        abort(400)
    accounts.end_sessions(user)
    db.session.commit()
    flash(_("账户 %(username)s 已在所有设备上退出登录。") % {"username": user.username}, "success")
    if user.id == g.user.id:
        return redirect(url_for("auth.login"))
    return redirect(url_for("staff.admin_users"))


@bp.route("/admin/users/<int:user_id>/password", methods=["POST"])
def admin_user_password(user_id: int):
    """Reset a password to a new temporary one, shown to the admin this once."""
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if not form.validate():
        abort(400)
    if not _spend_once(form.once.data):
        flash(_("这个表单已经提交过了（例如刷新了页面），没有再次重置密码。如需重置，请重新点击“重置密码”。"), "error")
        return _render_users(status=409)
    temporary = secrets.token_urlsafe(12)
    accounts.set_password(user, temporary)
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()
    return _render_users(temporary=(user, temporary))


def _render_tokens(form: TokenCreateForm | None = None, status: int = 200, created: tuple[ApiToken, str] | None = None):
    """The tokens page, with a failed form or a new token to show once."""
    if form is None:
        form = TokenCreateForm(formdata=None)
    form.once.data = _issue_once()
    form.user.choices = [("", _("请选择"))] + [
        (str(u.id), f"{u.username}（{u.full_name}）") for u in _users() if u.active
    ]
    tokens = db.session.scalars(sa.select(ApiToken).join(ApiToken.user).order_by(ApiToken.id.desc())).all()
    return render_template(
        "staff/admin/tokens.html", form=form, tokens=tokens, revoke_form=RevokeForm(formdata=None), created=created
    ), status


@bp.route("/admin/tokens")
def admin_tokens():
    """Every API token (never the token itself), and the form to create one."""
    return _render_tokens()


@bp.route("/admin/tokens/new", methods=["POST"])
def admin_token_new():
    """Create an API token; the token is shown once and only its hash is kept."""
    form = TokenCreateForm()
    form.user.choices = [(str(u.id), u.username) for u in _users() if u.active]
    if not form.validate():
        return _render_tokens(form, 422)
    if not _spend_once(form.once.data):
        flash(_("这个表单已经提交过了（例如刷新了页面），没有再创建令牌。新令牌只在创建时显示一次。"), "error")
        return _render_tokens(status=409)
    user = db.session.get(User, int(form.user.data))
    row, plain = accounts.create_token(user, form.label.data.strip(), form.scopes.data or None)
    db.session.commit()
    return _render_tokens(created=(row, plain))


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
def admin_token_revoke(token_id: int):
    """Revoke an API token."""
    if not RevokeForm().validate():
        abort(400)
    if not accounts.revoke_token(token_id):
        abort(404)
    db.session.commit()
    flash(_("令牌已吊销。"), "success")
    return redirect(url_for("staff.admin_tokens"))
