"""Sign-in with lock-out after repeated failures and a per-username rate limit; the session is renewed at
sign-in and ends after a time without activity; every signed-in user may change their password."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from app.auth import bp
from app.auth.forms import LoginForm, PasswordChangeForm
from app.extensions import db, limiter
from app.security import SESSION_GENERATION
from cases import accounts, states

LAST_SEEN = "last_seen"
IDLE_MINUTES_DEFAULT = 30
# Per username, whatever the address: a slow guess at one account is stopped even from many machines.
LOGIN_PER_USERNAME = "10 per 15 minutes"


def _login_username_key() -> str:
    """The rate-limit key of a sign-in attempt: the username typed, whatever the address."""
    return "login-user:" + (request.form.get("username") or "").strip().lower()[:64]


def idle_limit_seconds() -> int:
    """How long a signed-in session may stay unused (IDLE_TIMEOUT_MINUTES, 30 by default)."""
    return int(current_app.config.get("IDLE_TIMEOUT_MINUTES", IDLE_MINUTES_DEFAULT)) * 60


@bp.before_app_request
def _end_idle_session() -> None:
    """Sign out a web session that has not been used for the idle limit; otherwise note this visit."""
    if request.blueprint == "api" or request.endpoint == "static" or not current_user.is_authenticated:
        return
    now = int(time.time())
    last = session.get(LAST_SEEN)
    if isinstance(last, int) and now - last > idle_limit_seconds():
        logout_user()
        session.clear()
        flash(_("您已较长时间未操作，为保护信息安全已自动退出，请重新登录。"), "info")
        return  # the permission check that follows sends a staff page to the sign-in page
    session[LAST_SEEN] = now


def home_for(role: str) -> str:
    """Where a role lands after signing in."""
    return url_for("operator.index") if role == states.OPERATOR else url_for("staff.index")


def _safe_next(target: str | None) -> str | None:
    """A local path to go to after signing in, or None for anything pointing elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@limiter.limit(LOGIN_PER_USERNAME, key_func=_login_username_key, methods=["POST"])
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
        session[LAST_SEEN] = int(time.time())
        session[SESSION_GENERATION] = user.session_generation
        target = _safe_next(request.args.get("next"))
        if target and user.role == states.OPERATOR and not target.startswith("/operator"):
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


@bp.route("/sessions/end", methods=["POST"])
def end_sessions():
    """Sign out everywhere (全部退出登录): every session of the account ends, on this device and all others."""
    accounts.end_sessions(g.user)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("已在所有设备上退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """Change one's own password (the current one is asked again)."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = g.user
        if not check_password_hash(user.password_hash, form.current.data):
            form.current.errors.append(_("当前密码不正确。"))
            return render_template("auth/password.html", form=form), 422
        if form.new.data == form.current.data:
            form.new.errors.append(_("新密码不能与当前密码相同。"))
            return render_template("auth/password.html", form=form), 422
        accounts.set_password(user, form.new.data)  # ends every other session signed in with the old password
        db.session.commit()
        session[SESSION_GENERATION] = user.session_generation  # ... but not this one
        flash(_("密码已修改，其他设备上的登录已全部退出。"), "success")
        return redirect(home_for(user.role))
    status = 422 if form.errors else 200
    return render_template("auth/password.html", form=form), status
