"""Helpers the staff API modules share: query-string parsing with 422 errors, pages, ISO times."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import request
from flask_babel import gettext as _

from app.extensions import db
from cases import contacts

MAX_PER_PAGE = 100


class BadQuery(Exception):
    """Query-string or body values that cannot be used; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        """Keep the messages per field."""
        super().__init__("bad query")
        self.errors = errors


def iso(value: dt.datetime | dt.date | None) -> str | None:
    """A stored naive UTC time as ISO 8601 with Z; a date as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


class Args:
    """Read query-string values, collecting a message per bad one."""

    def __init__(self, source: Any | None = None):
        """Read from the request's query string, or from `source`."""
        self.source = request.args if source is None else source
        self.errors: dict[str, list[str]] = {}

    def text(self, name: str, max_len: int = 100) -> str | None:
        """A trimmed string, or None when absent."""
        value = self.source.get(name)
        if value is None or str(value).strip() == "":
            return None
        value = str(value).strip()
        if len(value) > max_len:
            self.errors[name] = [_("内容过长。")]
            return None
        return value

    def choice(self, name: str, allowed: Any) -> str | None:
        """One of the allowed codes."""
        value = self.text(name, 40)
        if value is not None and value not in allowed:
            self.errors[name] = [_("请选择有效的选项。")]
            return None
        return value

    def date(self, name: str) -> dt.date | None:
        """A YYYY-MM-DD date."""
        value = self.text(name, 20)
        if value is None:
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.errors[name] = [_("日期格式应为 YYYY-MM-DD。")]
            return None
        if not contacts.plausible(day):
            self.errors[name] = [_("日期应在 2000 年至 2099 年之间。")]
            return None
        return day

    def boolean(self, name: str) -> bool | None:
        """true/false (also 1/0)."""
        value = self.text(name, 10)
        if value is None:
            return None
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        self.errors[name] = [_("应为 true 或 false。")]
        return None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """An integer within [low, high]."""
        value = self.text(name, 12)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.errors[name] = [_("应为 %(low)s 到 %(high)s 之间的整数。", low=low, high=high)]
            return default
        return number

    def check(self) -> None:
        """Raise BadQuery when any value was bad."""
        if self.errors:
            raise BadQuery(self.errors)


def page_of(query: sa.Select, args: Args) -> tuple[list[Any], dict[str, int]]:
    """One page of a query's rows and the paging facts (page, per_page, total, pages)."""
    page = args.integer("page", 1, 1, 1_000_000)
    per_page = args.integer("per_page", 25, 1, MAX_PER_PAGE)
    args.check()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return rows, {"page": page, "per_page": per_page, "total": total, "pages": (total + per_page - 1) // per_page}


PAGE_PARAMETERS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}},
]
PAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "total": {"type": "integer"},
        "pages": {"type": "integer"},
    },
}
