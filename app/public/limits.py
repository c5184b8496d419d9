"""Rate limits of the consumer's endpoints (portal and API share them, per IP address)."""

from __future__ import annotations

from flask import current_app, g

from app.extensions import limiter

LOOKUP_LIMIT = "10 per minute; 50 per hour"
FILING_LIMIT = "20 per hour"
CHECK_LIMIT = "60 per minute"
REFERENCE_LIMIT = "120 per minute"


def _lookup_limit() -> str:
    return current_app.config.get("PUBLIC_LOOKUP_LIMIT", LOOKUP_LIMIT)


def _filing_limit() -> str:
    return current_app.config.get("PUBLIC_FILING_LIMIT", FILING_LIMIT)


def mark_failed_lookup() -> None:
    """Note that this request gave a wrong case number or access code (only those count against the limit)."""
    g.access_code_failed = True


def _failed(response) -> bool:
    return bool(g.get("access_code_failed"))


# Failed lookups anywhere (tracking form, API) count against one budget per address.
lookup_limit = limiter.shared_limit(_lookup_limit, scope="access-code", deduct_when=_failed)
filing_limit = limiter.shared_limit(_filing_limit, scope="filing", methods=["POST"])
check_limit = limiter.limit(CHECK_LIMIT, methods=["POST"])
lookup_limit_post = limiter.shared_limit(_lookup_limit, scope="access-code", methods=["POST"], deduct_when=_failed)
reference_limit = limiter.limit(REFERENCE_LIMIT)
