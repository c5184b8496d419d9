"""What a settlement (和解) recorded live must say: at least one term, and a carry-out date not already past.

Imported history is lenient (an older system may have kept a settlement without its terms); the lifecycle
engine applies these rules to every settlement recorded live, on the web and through the API alike.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

TERM_FIELDS = ("refund_amount", "service_restored", "apology", "other_terms")


def has_term(terms: dict[str, Any]) -> bool:
    """True when the terms name something the operator is to do: an amount above 0, a restored service,
    an apology or other terms."""
    amount = terms.get("refund_amount")
    return bool(
        (amount is not None and Decimal(str(amount)) > 0)
        or terms.get("service_restored")
        or terms.get("apology")
        or str(terms.get("other_terms") or "").strip()
    )


def term_problems(terms: dict[str, Any], settled_on: dt.date) -> dict[str, list[str]]:
    """The problems of a live settlement's cleaned terms, by field (empty when it may be recorded).

    `settled_on` is the day of the settlement (Asia/Shanghai); the carry-out date may be that day or later.
    """
    problems: dict[str, list[str]] = {}
    if not has_term(terms):
        problems["terms"] = [_("和解至少要有一项条款：退费/补偿金额、恢复服务、赔礼道歉或其他条款。")]
    perform_by = terms.get("perform_by")
    if perform_by is None:
        problems["perform_by"] = [_("此项为必填项。")]
    elif perform_by < settled_on:
        problems["perform_by"] = [
            _("企业履行期限不能早于和解当天（%(day)s）。", day=settled_on.isoformat()),
        ]
    return problems
