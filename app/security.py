"""Who is asking (session or API token), whether the permission table lets them, and the security headers."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import Flask, abort, g, jsonify, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from app import permissions
from app.extensions import db, login_manager
from cases import accounts
from cases.models import ApiToken, User, utcnow

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


SESSION_GENERATION = "session_generation"  # the account's session generation the session signed in with


def token_digest(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def user_from_token(header: str | None) -> User | None:
    """The active user behind `Authorization: Bearer <token>`, if the token is valid and not revoked."""
    if not header or not header.startswith("Bearer "):
        return None
    digest = token_digest(header[7:].strip())
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)))
    if row is None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row.user


def current_role() -> str:
    """'anonymous' or the signed-in user's role."""
    user = getattr(g, "user", None)
    return user.role if user is not None else "anonymous"


def _identify() -> None:
    # The API trusts bearer tokens only, never the session cookie, so it needs no CSRF token.
    if request.blueprint == "api":
        g.user = user_from_token(request.headers.get("Authorization"))
    else:
        g.user = current_user if current_user.is_authenticated else None


def _wants_json() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def _enforce() -> None:
    endpoint = request.endpoint
    if endpoint is None:  # 404 and 405 are answered by their handlers
        return
    _identify()
    if g.get("database_down"):
        abort(503)
    allowed = permissions.roles_for(endpoint)
    if allowed == permissions.PUBLIC:
        return
    if allowed is None:
        abort(403)
    if g.user is None:
        if _wants_json():
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path))
    if g.user.role not in allowed:
        abort(403)
    return None


class SessionOutsideTheApi(SecureCookieSessionInterface):
    """The signed-cookie session everywhere but under /api/, where a null session saves verifying and re-signing it.

    The API trusts bearer tokens and access codes only (see _identify), so it has no use for the cookie; a
    write to the session there fails loudly instead of setting one.
    """

    def open_session(self, app, request):
        if request.path.startswith("/api/"):  # the URL is matched after the session is opened
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Install the identity loaders, the permission check and the headers."""
    app.session_interface = SessionOutsideTheApi()

    @login_manager.user_loader
    def _load_user(user_id: str) -> User | None:
        try:
            user = db.session.get(User, int(user_id))
        except (TypeError, ValueError):
            return None
        except OperationalError:
            # The database is away: remember it, so the request ends in a 503 rather than a sign-in page.
            db.session.rollback()
            g.database_down = True
            return None
        if user is None or not user.active or not accounts.session_current(user, session.get(SESSION_GENERATION)):
            return None  # deactivated, or every session of the account was ended after this one signed in
        return user

    @login_manager.unauthorized_handler
    def _unauthorized():
        if _wants_json():
            return jsonify(error="unauthorized"), 401
        return redirect(url_for("auth.login", next=request.full_path))

    app.before_request(_enforce)

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if getattr(g, "user", None) is not None or request.blueprint in ("staff", "operator"):
            resp.headers["Cache-Control"] = "no-store"
        return resp
