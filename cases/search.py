"""Finding appeals: by case number (exact or prefix), phone, service number, or words in the facts."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from cases.models import Appeal

KEYS = ("any", "case_no", "phone", "service_number", "facts")
_CASE_NO = re.compile(r"^[A-Za-z]{1,4}\d{0,4}(-\d{0,6})?$")
_FULL_CASE_NO = re.compile(r"^[A-Z]{1,4}\d{4}-\d{6}$")
_NUMBER = re.compile(r"^\+?[\d\s-]{5,40}$")
MAX_WORDS = 5


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user input matches literally (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: sa.ColumnElement, word: str) -> sa.ColumnElement[bool]:
    """A case-insensitive 'contains' on a column, with the word's wildcards escaped."""
    return column.ilike(f"%{escape_like(word)}%", escape="\\")


def guess_key(text: str) -> str:
    """What a search in "any" most likely means: a case number, a phone or service number, or words in the facts."""
    if _CASE_NO.match(text) and any(ch.isdigit() for ch in text):
        return "case_no"
    if _NUMBER.match(text):
        return "number"
    return "facts"


def condition(text: str, key: str = "any") -> sa.ColumnElement[bool] | None:
    """The WHERE clause for a search, or None when there is nothing to search for.

    "any" searches only the column the input looks like, so each search can use its index.
    """
    text = (text or "").strip()[:200]
    if not text:
        return None
    if key not in KEYS:
        key = "any"
    if key == "any":
        key = guess_key(text)
    compact = re.sub(r"[\s-]", "", text)
    if key == "case_no":
        number = text.upper()  # case numbers are stored in capitals, so LIKE (cheaper than ILIKE) finds them
        if _FULL_CASE_NO.match(number):
            return Appeal.case_no == number
        return Appeal.case_no.like(f"{escape_like(number)}%", escape="\\")
    if key == "phone":
        return Appeal.phone == compact
    if key == "service_number":
        return Appeal.service_number == compact
    if key == "number":
        return sa.or_(Appeal.phone == compact, Appeal.service_number == compact)
    words = text.split()[:MAX_WORDS]
    return sa.and_(*[_contains(Appeal.facts, w) for w in words])


def search_select(text: str, key: str = "any") -> sa.Select | None:
    """The matching appeals, newest first, with operator and assignee loaded; None for an empty search."""
    where = condition(text, key)
    if where is None:
        return None
    return (
        sa.select(Appeal)
        .options(joinedload(Appeal.operator), joinedload(Appeal.assignee))
        .where(where)
        .order_by(Appeal.received_at.desc(), Appeal.id.desc())
    )
