"""Sign-in with lock-out after repeated failures; the session is renewed at sign-in."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from app.auth import bp
from app.auth.forms import LoginForm
from app.extensions import limiter
from cases import accounts


def home_for(role: str) -> str:
    """Where a role lands after signing in."""
    return url_for("operator.index") if role == "operator" else url_for("staff.index")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    """The sign-in page."""
    form = LoginForm()
    if form.validate_on_submit():
        user, reason = accounts.authenticate(form.username.data, form.password.data)
        if user is None:
            if reason == "locked":
                form.password.errors.append(_("登录失败次数过多，账户已暂时锁定，请15分钟后再试。"))
            else:
                form.password.errors.append(_("用户名或密码不正确。"))
            return render_template("auth/login.html", form=form), 200
        lang = session.get("lang")
        session.clear()  # a fresh session at sign-in (no fixation)
        if lang:
            session["lang"] = lang
        session.permanent = True
        login_user(user)
        target = _safe_next(request.args.get("next"))
        if target and user.role == "operator" and not target.startswith("/operator"):
            target = None
        return redirect(target or home_for(user.role))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST only, with the CSRF token)."""
    logout_user()
    session.clear()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))
