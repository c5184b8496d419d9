"""One appeal per submission, and a receipt that is not lost.

A filing carries a one-time key: the web form's hidden token, or an API client's `Idempotency-Key`. `claim`
writes the key's hash before the case is filed, in the filing's transaction, so a second request with the same
key waits for the first (PostgreSQL's unique index) and then finds its case (`find`) instead of filing another.

The access code exists in clear only while the case is filed. The receipt keeps it twice, sealed (AES-GCM):
- with the one-time key itself, for `RECEIPT_MINUTES`: the browser that filed (and only it, holding the key in
  its session) can reload the receipt page; a stolen database alone does not give the code;
- with the app's secret, until the SMS/e-mail receipt is sent (`notice_code`, cleared by the sending job).
Both are cleared by `purge`; a record itself is kept `KEEP_HOURS` (the API's idempotency window).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cases.db import db
from cases.models import Appeal, FilingReceipt, utcnow

SCOPES = ("form", "api", "staff")  # staff: an appeal staff filed for the appellant (receipt by SMS/e-mail only)
RECEIPT_MINUTES = 10  # how long the browser that filed may reload its receipt
KEEP_HOURS = 24  # how long a key finds its case
KEY_RE = re.compile(r"[A-Za-z0-9_\-]{16,128}")  # what a web form token may look like
_RECEIPT, _NOTICE = b"receipt", b"notice"


class KeyReused(ValueError):
    """The key was used before for a different filing (the API answers 422)."""


def new_form_token() -> str:
    """A random one-time token for an appeal form (256 bits)."""
    return secrets.token_urlsafe(32)


def key_hash(scope: str, key: str) -> str:
    """What is stored of a key: SHA-256 of its scope and the key."""
    return hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()


def fingerprint(content: Mapping[str, Any]) -> str:
    """SHA-256 of the filed content (canonical JSON; dates and other values as text)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def _aead(secret: str | bytes, purpose: bytes) -> AESGCM:
    """An AES-256-GCM key derived (HKDF-SHA256) from a secret, one per purpose."""
    material = secret.encode() if isinstance(secret, str) else secret
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"appeals-receipt:" + purpose).derive(material)
    return AESGCM(key)


def seal(secret: str | bytes, purpose: bytes, text: str) -> bytes:
    """`text` encrypted and authenticated under a key derived from `secret` (nonce + ciphertext)."""
    nonce = os.urandom(12)
    return nonce + _aead(secret, purpose).encrypt(nonce, text.encode(), purpose)


def unseal(secret: str | bytes, purpose: bytes, sealed: bytes | None) -> str | None:
    """The sealed text, or None when there is none or the secret is not the one it was sealed with."""
    if not sealed or len(sealed) < 13:
        return None
    try:
        return _aead(secret, purpose).decrypt(sealed[:12], sealed[12:], purpose).decode()
    except InvalidTag:
        return None


def find(scope: str, key: str, now: dt.datetime | None = None) -> FilingReceipt | None:
    """The filing made with this key within `KEEP_HOURS` (with its case), or None."""
    since = (now or utcnow()) - dt.timedelta(hours=KEEP_HOURS)
    return db.session.scalar(
        sa.select(FilingReceipt).where(
            FilingReceipt.key_hash == key_hash(scope, key),
            FilingReceipt.created_at >= since,
            FilingReceipt.appeal_id.is_not(None),
        )
    )


def replay(scope: str, key: str, content_fingerprint: str | None = None) -> Appeal | None:
    """The case filed before with this key, or None; raises KeyReused when it was filed with other content."""
    found = find(scope, key)
    if found is None:
        return None
    if content_fingerprint is not None and found.fingerprint != content_fingerprint:
        raise KeyReused(key)
    return found.appeal


def claim(scope: str, key: str, content_fingerprint: str = "") -> FilingReceipt:
    """Write the key before filing (flushed): a concurrent request with the same key waits here, then fails with
    IntegrityError once this transaction commits (the caller rolls back and calls `replay`). A stale record of the
    key (older than `KEEP_HOURS`) is replaced."""
    if scope not in SCOPES:
        raise ValueError(scope)
    hashed = key_hash(scope, key)
    since = utcnow() - dt.timedelta(hours=KEEP_HOURS)
    db.session.execute(
        sa.delete(FilingReceipt).where(FilingReceipt.key_hash == hashed, FilingReceipt.created_at < since)
    )
    record = FilingReceipt(key_hash=hashed, scope=scope, fingerprint=content_fingerprint, created_at=utcnow())
    db.session.add(record)
    db.session.flush()
    return record


def complete(record: FilingReceipt, appeal: Appeal, access_code: str, *, key: str, app_secret: str) -> None:
    """Tie the claimed key to the filed case and keep the access code sealed for the receipt and the SMS."""
    record.appeal = appeal
    record.sealed_code = seal(key, _RECEIPT, access_code)
    record.notice_code = seal(app_secret, _NOTICE, access_code)


def for_staff_filing(appeal: Appeal, access_code: str, *, app_secret: str) -> FilingReceipt:
    """The SMS/e-mail receipt of an appeal staff filed on the appellant's behalf (a call, a letter, a visit): the
    code is sealed for the sending job only; there is no key to find the case by and no receipt page to reload."""
    record = claim("staff", new_form_token())
    record.appeal = appeal
    record.notice_code = seal(app_secret, _NOTICE, access_code)
    return record


def receipt_code(record: FilingReceipt, key: str, now: dt.datetime | None = None) -> str | None:
    """The access code for the receipt page, while it may still be shown (`RECEIPT_MINUTES`), else None."""
    if (now or utcnow()) - record.created_at > dt.timedelta(minutes=RECEIPT_MINUTES):
        return None
    return unseal(key, _RECEIPT, record.sealed_code)


def receipt_until(record: FilingReceipt) -> dt.datetime:
    """Until when the receipt page shows the access code (UTC)."""
    return record.created_at + dt.timedelta(minutes=RECEIPT_MINUTES)


def notice_code(record: FilingReceipt, app_secret: str) -> str | None:
    """The access code for the SMS/e-mail receipt, until it is sent."""
    return unseal(app_secret, _NOTICE, record.notice_code)


def notice_sent(record: FilingReceipt) -> None:
    """The SMS/e-mail receipt is out: forget its copy of the code."""
    record.notice_code = None


def group_code(code: str, size: int = 4) -> str:
    """A code in groups for reading aloud and copying by hand: A3M9 222Y BR."""
    return " ".join(code[i : i + size] for i in range(0, len(code), size))


def purge(now: dt.datetime | None = None) -> dict[str, int]:
    """Forget receipts no longer shown and records past the idempotency window; the caller commits."""
    now = now or utcnow()
    shown_until = now - dt.timedelta(minutes=RECEIPT_MINUTES)
    cleared = db.session.execute(
        sa.update(FilingReceipt)
        .where(FilingReceipt.created_at < shown_until, FilingReceipt.sealed_code.is_not(None))
        .values(sealed_code=None)
    ).rowcount
    gone = db.session.execute(
        sa.delete(FilingReceipt).where(FilingReceipt.created_at < now - dt.timedelta(hours=KEEP_HOURS))
    ).rowcount
    return {"receipts_cleared": cleared or 0, "keys_removed": gone or 0}
