"""Staff and operator accounts, passwords and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from cases import reference, states
from cases.db import db
from cases.models import ApiToken, User, utcnow

ROLES = states.ACCOUNT_ROLES
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
# A fixed hash to compare against when the user does not exist, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def create_user(
    username: str, password: str, role: str, full_name: str = "", operator_code: str | None = None, email: str = ""
) -> User:
    """Create an account; an operator liaison is tied to exactly one operator."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    operator_id = None
    if role == states.OPERATOR:
        op = reference.operator_by_code(operator_code)
        if op is None:
            raise ValueError("an operator account needs a valid operator code")
        operator_id = op.id
    user = User(
        username=username,
        full_name=full_name or username,
        role=role,
        operator_id=operator_id,
        email=email,
        password_hash=generate_password_hash(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """A new password; every web session signed in with the old one ends (`end_sessions`)."""
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """End every web session of the account: the user loader refuses a session signed in before this (the
    caller commits). API tokens are not sessions: they are revoked on their own page or by deactivation."""
    user.session_generation = (user.session_generation or 0) + 1


def session_current(user: User, generation: object) -> bool:
    """Whether a session that signed in at `generation` is still one of the account's live sessions."""
    return isinstance(generation, int) and generation == (user.session_generation or 0)


def authenticate(username: str, password: str) -> tuple[User | None, str]:
    """Check a login; returns (user, '') or (None, reason) with reason 'invalid' or 'locked'. Commits the counters."""
    user = db.session.scalar(sa.select(User).where(User.username == username))
    now = utcnow()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None, "invalid"
    if user.locked_until is not None and user.locked_until > now:
        return None, "locked"
    if not user.active or not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        db.session.commit()
        return None, "locked" if user.locked_until and user.locked_until > now else "invalid"
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.commit()
    return user, ""


def create_token(user: User, label: str = "") -> tuple[ApiToken, str]:
    """A new API token for a user; the plain token is returned once and only its hash is stored."""
    plain = "apt_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=hashlib.sha256(plain.encode()).hexdigest(), label=label)
    db.session.add(row)
    db.session.flush()
    return row, plain


def revoke_token(token_id: int) -> bool:
    """Revoke a token by id; False when there is no such live token."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
