"""Access codes and what a consumer sees of a case: state, public timeline, deadlines, materials.

An access code is shown once; only a salted PBKDF2 hash is kept. A lookup of an
unknown case number costs the same hash as a wrong code, so the two answers
cannot be told apart by content or by timing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

import sqlalchemy as sa

from cases import codes
from cases.db import db
from cases.models import Appeal

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 10
# A 10-character code of 31 symbols is ~49 bits; 2,000 PBKDF2 rounds keep an offline search of a stolen
# database at decades per code while costing intake ~1 ms (online guessing is rate limited). Each stored
# hash names its own rounds, so changing this never locks out existing codes.
ITERATIONS = 2_000
SCHEME = "pbkdf2_sha256"
CASE_NO_RE = re.compile(r"(?=.{1,20}$)[A-Z0-9]{1,12}-?[0-9]{1,12}")  # only such text is ever sent to the database
_DUMMY = f"{SCHEME}${ITERATIONS}${'00' * 16}${'00' * 32}"


def new_access_code() -> str:
    """A random access code of unambiguous characters."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """The code as typed, upper-cased, without spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch.isascii() and ch.isalnum())


def hash_access_code(code: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The stored form: scheme$iterations$salt$hash."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", normalise_code(code).encode(), salt, iterations)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_access_code(code: str, stored: str) -> bool:
    """True when `code` matches the stored hash; a constant-time comparison."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        salt_bytes = bytes.fromhex(salt)
        rounds = int(iterations)
    except ValueError:
        scheme, rounds, salt_bytes, digest = SCHEME, ITERATIONS, b"\0" * 16, ""
    candidate = hashlib.pbkdf2_hmac("sha256", normalise_code(code).encode(), salt_bytes, rounds).hex()
    return scheme == SCHEME and bool(digest) and hmac.compare_digest(candidate, digest)


def find_case(case_no: Any, code: Any) -> Appeal | None:
    """The appeal when the number and code match; None otherwise, at the same cost."""
    case_no = case_no.strip().upper() if isinstance(case_no, str) else ""
    code = code if isinstance(code, str) else ""
    appeal = None
    if CASE_NO_RE.fullmatch(case_no) and len(code) <= 64:
        appeal = db.session.scalar(sa.select(Appeal).where(Appeal.case_no == case_no))
    stored = appeal.access_code_hash if appeal is not None and appeal.access_code_hash else _DUMMY
    ok = verify_access_code(code, stored)
    return appeal if ok and appeal is not None else None


def public_view(appeal: Appeal, lang: str = "zh") -> dict[str, Any]:
    """What the consumer may see of a case, as plain values (the page and the API add state and clock names)."""
    return {
        "case_no": appeal.case_no,
        "status": appeal.status,
        "outcome": appeal.outcome,
        "received_at": appeal.received_at,
        "operator": appeal.operator.display_name if appeal.operator else "",
        "category": appeal.category,
        "category_name": codes.name("category", appeal.category, lang),
        "rejection_ground": appeal.rejection_ground,
        "rejection_ground_name": codes.name("rejection_ground", appeal.rejection_ground, lang),
        "timeline": [
            {
                "action": e.action,
                "action_name": codes.name("action", e.action, lang),
                "at": e.at,
                "message": e.public_message or "",
            }
            for e in appeal.events
            if not e.internal
        ],
        "deadlines": [
            {
                "kind": d.kind,
                "due_at": d.due_at,
                "stopped_at": d.stopped_at,
                "paused": d.paused_at is not None,
                "met": d.met,
            }
            for d in appeal.deadlines
        ],
        "materials": [
            {"id": m.id, "name": m.original_name, "size": m.size, "type": m.mime_type, "received_at": m.received_at}
            for m in appeal.materials
            if m.source != "operator"  # the operator's evidence is for the centre, not the appellant
        ],
    }
