"""The public portal's pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import make_response, redirect, render_template, request, url_for

from app.i18n import ELDER_COOKIE, LANG_COOKIE
from app.public import bp

ONE_YEAR = 365 * 24 * 3600


def _back() -> str:
    target = request.form.get("next") or request.referrer or url_for("public.index")
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.path.startswith("/") else "/"


@bp.route("/")
def index():
    """The home page: what the centre does, and the way in."""
    return render_template("public/index.html")


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch between Chinese and English; remembered in a cookie."""
    lang = "en" if request.form.get("lang") == "en" else "zh"
    resp = make_response(redirect(_back()))
    resp.set_cookie(LANG_COOKIE, lang, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return resp


@bp.route("/elder-mode", methods=["POST"])
def toggle_elder_mode():
    """Large text and high contrast (适老化), remembered per browser."""
    on = request.form.get("on") == "1"
    resp = make_response(redirect(_back()))
    resp.set_cookie(ELDER_COOKIE, "1" if on else "0", max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return resp
