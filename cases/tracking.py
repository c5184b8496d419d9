"""Access codes and what a consumer sees of a case: state, public timeline, deadlines, materials.

An access code is shown once; only its keyed hash is kept: HMAC-SHA256 under the server's ACCESS_CODE_KEY
over a random salt and the code. The code is random like an API token (10 symbols of 31, about 49 bits),
so a slow password hash buys nothing a key does not: whoever steals the database without the key cannot
test a single guess, and online guessing is held by the rate limits. It costs microseconds, where the
PBKDF2 hash of earlier versions cost about 0.6 ms of every filing. Hashes stored by those versions
(`pbkdf2_sha256$...`) are told by their prefix and still verify. A lookup of an unknown case number costs
the same hash as a wrong code, so the two answers cannot be told apart by content or by timing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

import sqlalchemy as sa
from flask import current_app

from cases import codes
from cases.db import db
from cases.models import Appeal

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 10
SCHEME = "hmac_sha256"
PBKDF2 = "pbkdf2_sha256"  # the scheme of earlier versions: verified, never written
CASE_NO_RE = re.compile(r"(?=.{1,20}$)[A-Z0-9]{1,12}-?[0-9]{1,12}")  # only such text is ever sent to the database
_DUMMY = f"{SCHEME}${'00' * 16}${'00' * 32}"


def new_access_code() -> str:
    """A random access code of unambiguous characters."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """The code as typed, upper-cased, without spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch.isascii() and ch.isalnum())


def _keyed(code: str, salt: bytes) -> str:
    key = current_app.config["ACCESS_CODE_KEY"].encode()
    return hmac.new(key, salt + normalise_code(code).encode(), hashlib.sha256).hexdigest()


def hash_access_code(code: str) -> str:
    """The stored form: hmac_sha256$salt$hash."""
    salt = secrets.token_bytes(16)
    return f"{SCHEME}${salt.hex()}${_keyed(code, salt)}"


def verify_access_code(code: str, stored: str) -> bool:
    """True when `code` matches the stored hash (keyed, or PBKDF2 of earlier versions); a constant-time comparison."""
    parts = stored.split("$")
    try:
        if parts[0] == SCHEME and len(parts) == 3:
            candidate, digest = _keyed(code, bytes.fromhex(parts[1])), parts[2]
        elif parts[0] == PBKDF2 and len(parts) == 4:
            rounds, salt = int(parts[1]), bytes.fromhex(parts[2])
            candidate = hashlib.pbkdf2_hmac("sha256", normalise_code(code).encode(), salt, rounds).hex()
            digest = parts[3]
        else:
            return False
    except ValueError:
        return False
    return bool(digest) and hmac.compare_digest(candidate, digest)


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
