"""Consumers who prove their mobile number (手机号验证): one-time SMS codes, verified sessions, their appeals.

- A code is 6 digits, valid `CODE_MINUTES` and `MAX_ATTEMPTS` tries; only its HMAC is kept (keyed by the app's
  secret), with a sealed copy the sending job reads and then clears. A new request replaces the number's code.
- Requests are limited per number and per client address through the limits storage the caller passes (the
  app's rate-limit storage: Redis when configured, so the limits hold across web workers).
- A request does the same work whether or not the number has appeals: it stores a code and records the sending
  job; the job decides whether to send (a sign-in code only to a number with appeals; a filing code always).
- A verified session lasts `SESSION_MINUTES`, is bound to the number, and is a random token of which only the
  SHA-256 is stored (the web keeps it in the signed session cookie, the API as a bearer token).
- Each case a consumer opens this way leaves a `consumer_view` event (internal) on the case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from limits import parse
from limits.strategies import RateLimiter

from cases import receipts, tracking
from cases.db import db
from cases.models import Appeal, CaseEvent, ConsumerSession, Notification, PhoneCode, utcnow
from cases.validation import MOBILE_RE

CODE_DIGITS = 6
CODE_MINUTES = 5
MAX_ATTEMPTS = 5
SESSION_MINUTES = 30
SIGN_IN, FILE = "sign_in", "file"
PURPOSES = (SIGN_IN, FILE)
# (limit, what it is keyed by): per number, per client address
PHONE_LIMITS = ("1/minute", "10/day")
CLIENT_LIMITS = ("10/hour", "30/day")
_SEAL_PURPOSE = b"phone-code"


class Refused(Exception):
    """A request the consumer can correct or must wait for; `status` is the HTTP status that fits it."""

    def __init__(self, message: str, status: int, field: str = "code"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def normalise_mobile(value: Any) -> str | None:
    """A mainland mobile number as stored on appeals (11 digits), or None when it is not one."""
    if not isinstance(value, str):
        return None
    compact = value.replace(" ", "").replace("-", "")
    if compact.startswith("+86"):
        compact = compact[3:]
    return compact if MOBILE_RE.fullmatch(compact) else None


def _code_hash(secret: str, phone: str, code: str) -> str:
    return hmac.new(secret.encode(), f"phone-code:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _within_limits(storage: RateLimiter, phone: str, client: str) -> bool:
    """Count this request against the number's and the address's limits; False when one is used up."""
    items = [(parse(x), "consumer-code-phone", hashlib.sha256(phone.encode()).hexdigest()) for x in PHONE_LIMITS]
    items += [(parse(x), "consumer-code-client", client) for x in CLIENT_LIMITS]
    if not all(storage.test(limit, *keys) for limit, *keys in items):
        return False
    return all([storage.hit(limit, *keys) for limit, *keys in items])


def request_code(
    phone: str, purpose: str, client: str, storage: RateLimiter, secret: str, now: dt.datetime | None = None
) -> PhoneCode:
    """A new code for the number (replacing its old one), sealed for the sending job; the caller records the job
    (`send_phone_code`) and commits. Raises Refused (429) over the limits."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    if not _within_limits(storage, phone, client):
        raise Refused(_("获取验证码过于频繁，请稍后再试。"), 429, "phone")
    now = now or utcnow()
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    db.session.execute(sa.delete(PhoneCode).where(PhoneCode.phone == phone))
    row = PhoneCode(
        phone=phone,
        purpose=purpose,
        code_hash=_code_hash(secret, phone, code),
        sealed_code=receipts.seal(secret, _SEAL_PURPOSE, code),
        created_at=now,
        expires_at=now + dt.timedelta(minutes=CODE_MINUTES),
        attempts=0,
    )
    db.session.add(row)
    db.session.flush()
    return row


def code_to_send(row: PhoneCode, secret: str) -> str | None:
    """The code in clear for the sending job, while it is unsent and valid; None otherwise."""
    if row.sealed_code is None or row.expires_at <= utcnow():
        return None
    return receipts.unseal(secret, _SEAL_PURPOSE, row.sealed_code)


def should_send(row: PhoneCode) -> bool:
    """A filing code is always sent; a sign-in code only to a number some appeal was filed with."""
    return row.purpose == FILE or has_appeals(row.phone)


def has_appeals(phone: str) -> bool:
    """True when an appeal was filed with this number."""
    return db.session.scalar(sa.select(sa.literal(1)).where(Appeal.phone == phone).limit(1)) is not None


@dataclass(frozen=True)
class Session:
    """A verified session: the token (given once) and when it ends."""

    token: str
    phone: str
    expires_at: dt.datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify_code(phone: str, code: Any, secret: str, now: dt.datetime | None = None) -> Session:
    """Check the code; on success the code is used up and a session begins. The caller commits either way (a
    wrong try counts). Raises Refused: 401 for a wrong or expired code, 429 once the tries are used up."""
    now = now or utcnow()
    code = code.strip() if isinstance(code, str) else ""
    row = db.session.scalar(sa.select(PhoneCode).where(PhoneCode.phone == phone).with_for_update())
    if row is None or row.expires_at <= now:
        hmac.compare_digest(_code_hash(secret, phone, code), "0" * 64)  # the same work as a real check
        raise Refused(_("验证码不正确或已过期，请重新获取。"), 401)
    if row.attempts >= MAX_ATTEMPTS:
        raise Refused(_("验证码错误次数过多，请重新获取验证码。"), 429)
    if not (len(code) == CODE_DIGITS and hmac.compare_digest(_code_hash(secret, phone, code), row.code_hash)):
        row.attempts += 1
        if row.attempts >= MAX_ATTEMPTS:
            raise Refused(_("验证码错误次数过多，请重新获取验证码。"), 429)
        raise Refused(_("验证码不正确或已过期，请重新获取。"), 401)
    db.session.delete(row)
    return start_session(phone, now)


def start_session(phone: str, now: dt.datetime | None = None) -> Session:
    """A new verified session for the number (the caller commits)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(minutes=SESSION_MINUTES)
    db.session.add(ConsumerSession(token_hash=_token_hash(token), phone=phone, created_at=now, expires_at=expires))
    db.session.flush()
    return Session(token, phone, expires)


def session_phone(token: Any, now: dt.datetime | None = None) -> str | None:
    """The number a live session token is bound to; None for an unknown, malformed or expired token."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    row = db.session.scalar(sa.select(ConsumerSession).where(ConsumerSession.token_hash == _token_hash(token)))
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    return row.phone


def end_session(token: Any) -> None:
    """Sign out: the token stops working (the caller commits)."""
    if isinstance(token, str):
        db.session.execute(sa.delete(ConsumerSession).where(ConsumerSession.token_hash == _token_hash(token)))


def purge(now: dt.datetime | None = None) -> int:
    """Delete expired sessions and codes; the number of rows removed (the caller commits)."""
    now = now or utcnow()
    gone = db.session.execute(sa.delete(ConsumerSession).where(ConsumerSession.expires_at <= now)).rowcount
    gone += db.session.execute(sa.delete(PhoneCode).where(PhoneCode.expires_at <= now)).rowcount
    return gone or 0


def appeals_of(phone: str) -> list[Appeal]:
    """Every appeal filed with the number, newest first."""
    return list(
        db.session.scalars(
            sa.select(Appeal).where(Appeal.phone == phone).order_by(Appeal.received_at.desc(), Appeal.id.desc())
        )
    )


def appeal_of(phone: str, case_no: Any) -> Appeal | None:
    """The number's appeal with that case number; None for another number's case or an unknown one."""
    case_no = case_no.strip().upper() if isinstance(case_no, str) else ""
    if not tracking.CASE_NO_RE.fullmatch(case_no):
        return None
    return db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no, Appeal.phone == phone))


def audit(appeal: Appeal, action: str, **details: Any) -> CaseEvent:
    """An internal audit event of something the appellant did on the case (flushed; the caller commits)."""
    event = CaseEvent(
        appeal_id=appeal.id,
        action=action,
        at=utcnow(),
        actor_kind="consumer",
        internal=True,
        details=details,
        operator_id=appeal.operator_id,
    )
    db.session.add(event)
    db.session.flush()
    return event


def record_view(appeal: Appeal, via: str) -> None:
    """The audit record that the verified consumer opened the case (`via`: web or api); the caller commits."""
    audit(appeal, "consumer_view", via=via)


def new_access_code(appeal: Appeal, via: str) -> tuple[str, CaseEvent]:
    """找回查询码: a new access code for the case and its audit event; the old code stops working at once. The
    caller sends the code (SMS), shows it once and commits."""
    code = tracking.new_access_code()
    appeal.access_code_hash = tracking.hash_access_code(code)
    return code, audit(appeal, "access_code_reissued", via=via)


SENT_STATUSES = {"sent": "sent", "dev": "sent", "failed": "failed", "skipped": "not_sent", "pending": "sending"}


def messages_of(appeal: Appeal) -> list[Notification]:
    """Every message sent (or attempted) to the appellant about the case, newest first (not those to staff or the
    operator); codes in them are stored masked."""
    recipients = [r for r in (appeal.phone, appeal.email) if r]
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.appeal_id == appeal.id, Notification.recipient.in_(recipients))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
        )
    )
