"""The verified consumer of this browser (手机号验证): the session token kept in the signed session cookie."""

from __future__ import annotations

from flask import current_app, session

from cases import consumers

TOKEN_KEY = "consumer_token"
TRACKED_BY_PHONE_KEY = "tracked_by_phone"  # the tracked case was opened from 我的申诉: it ends with the session


def verified_phone() -> str | None:
    """The number this browser's consumer session is bound to, while it lasts."""
    phone = consumers.session_phone(session.get(TOKEN_KEY))
    if phone is None:
        session.pop(TOKEN_KEY, None)
    return phone


def verification_required() -> bool:
    """Filing needs a verified mobile number (REQUIRE_PHONE_VERIFICATION)."""
    return bool(current_app.config.get("REQUIRE_PHONE_VERIFICATION"))
