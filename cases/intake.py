"""Filing an appeal (Art. 12): the whole set of field rules, and creating the case with its access code.

`clean_appeal` is the one place the fields are checked: the web form hands it
what was typed, the API hands it the JSON body. It returns the cleaned values
or raises `IntakeErrors` naming each bad field, in the consumer's language.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import make_transient_to_detached

from cases import codes, eligibility, tracking
from cases.db import db
from cases.models import Appeal, Operator, utcnow
from cases.numbering import next_case_no
from cases.validation import (
    FieldError,
    check_email,
    check_id_number,
    check_not_future,
    check_phone,
    check_postcode,
    clean_text,
    parse_date,
)

OPERATOR_CODE_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")  # checked before the code is looked up
# An active operator found once is taken from this process's memory for a minute: operators are reference
# data, added by the seed or the import and never deactivated by the application (a deactivation made in
# the database reaches every process within this time).
OPERATOR_CACHE_SECONDS = 60.0
LIMITS = {
    "complainant_name": 50,
    "phone": 20,
    "id_number": 20,
    "address": 200,
    "postcode": 10,
    "email": 200,
    "service_number": 40,
    "operator_ticket_no": 64,
    "request": 1000,
    "facts": 5000,
}
REQUIRED_TEXT = ("complainant_name", "phone", "address", "postcode", "service_number", "request", "facts")
FIELDS = (
    "complainant_name",
    "phone",
    "id_number",
    "address",
    "postcode",
    "email",
    "operator",
    "service_type",
    "service_number",
    "category",
    "event_date",
    "operator_complaint_date",
    "operator_ticket_no",
    "request",
    "facts",
    "pledge",
)


class IntakeErrors(Exception):
    """The fields that break a rule: {field: [messages]}; `ground` when an eligibility rule stops the appeal."""

    def __init__(self, errors: dict[str, list[str]], stop: eligibility.Stop | None = None):
        super().__init__(_("请检查填写的内容。"))
        self.errors = errors
        self.stop = stop


@dataclass
class Filed:
    """A new appeal and its access code (the only time the code exists in clear)."""

    appeal: Appeal
    access_code: str


def _required() -> str:
    return _("此项为必填项。")


def clean_appeal(raw: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """Check every field of an appeal; returns cleaned values (operator as an Operator) or raises IntakeErrors."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def run(name: str, fn) -> None:
        try:
            out[name] = fn()
        except FieldError as exc:
            errors.setdefault(name, []).append(exc.message)

    for name, limit in LIMITS.items():
        multiline = name in ("request", "facts", "address")
        run(name, lambda n=name, lim=limit, m=multiline: clean_text(raw.get(n), max_length=lim, multiline=m))
    for name in REQUIRED_TEXT:
        if name in out and not out[name]:
            errors.setdefault(name, []).append(_required())
    if out.get("phone"):
        run("phone", lambda: check_phone(out["phone"]))
    if out.get("id_number"):
        run("id_number", lambda: check_id_number(out["id_number"]))
    if out.get("postcode"):
        run("postcode", lambda: check_postcode(out["postcode"]))
    if out.get("email"):
        run("email", lambda: check_email(out["email"]))

    run("operator", lambda: _operator(raw.get("operator")))
    run("service_type", lambda: _choice(raw.get("service_type"), codes.SERVICE_TYPES))
    run("category", lambda: _choice(raw.get("category"), codes.CATEGORIES))
    run("event_date", lambda: _date(raw.get("event_date"), today))
    run("operator_complaint_date", lambda: _date(raw.get("operator_complaint_date"), today))
    if isinstance(out.get("event_date"), dt.date) and isinstance(out.get("operator_complaint_date"), dt.date):
        if out["operator_complaint_date"] < out["event_date"]:
            errors.setdefault("operator_complaint_date", []).append(_("向运营商投诉的日期不能早于问题发生的日期。"))
    if raw.get("pledge") not in (True, "y", "yes", "on", "true", "1"):
        errors.setdefault("pledge", []).append(_("请阅读并勾选承诺。"))
    if errors:
        raise IntakeErrors(errors)
    return out


def _operator(value: Any) -> Operator:
    if value in (None, ""):
        raise FieldError(_required())
    if not isinstance(value, str) or not OPERATOR_CODE_RE.fullmatch(value):
        raise FieldError(_("请从列表中选择被申诉的运营商。"))
    cache = current_app.extensions.setdefault("intake_operators", {})
    hit = cache.get(value)
    if hit is not None and hit[0] > time.monotonic():
        return db.session.merge(hit[1], load=False)  # into this session without a query
    op = db.session.scalar(sa.select(Operator).where(Operator.code == value, Operator.active))
    if op is None:
        raise FieldError(_("请从列表中选择被申诉的运营商。"))
    copy = Operator(**{attr.key: getattr(op, attr.key) for attr in sa.inspect(Operator).column_attrs})
    make_transient_to_detached(copy)
    cache[value] = (time.monotonic() + OPERATOR_CACHE_SECONDS, copy)
    return op


def _choice(value: Any, table: Mapping[str, codes.Code]) -> str:
    if value in (None, ""):
        raise FieldError(_required())
    if not isinstance(value, str) or value not in table:
        raise FieldError(_("请从列表中选择。"))
    return value


def _date(value: Any, today: dt.date) -> dt.date:
    if value in (None, ""):
        raise FieldError(_required())
    return check_not_future(parse_date(value), today)


def check_eligibility(answers: eligibility.Answers, cleaned: Mapping[str, Any], today: dt.date) -> None:
    """Apply the eligibility rules with the form's own dates and category; raises IntakeErrors naming the article."""
    answers = dataclasses.replace(answers, event_date=cleaned["event_date"], charging=cleaned["category"] == "charging")
    if answers.complained_to_operator and cleaned.get("operator_complaint_date"):
        answers.complaint_date = cleaned["operator_complaint_date"]
    missing = eligibility.missing_answers(answers)
    if missing:
        raise IntakeErrors({"eligibility": [_("请回答申诉条件的全部问题：%(names)s", names=", ".join(missing))]})
    stop = eligibility.evaluate(answers, today)
    if stop is not None:
        field = "event_date" if stop.ground == "art11_1" else "eligibility"
        raise IntakeErrors({field: [f"{stop.advice}（{stop.article}）"]}, stop)


def file_appeal(
    cleaned: Mapping[str, Any], *, prefix: str, channel: str = "online", received_at: dt.datetime | None = None
) -> Filed:
    """Create the appeal with its case number and access-code hash, in the session (the caller submits and commits)."""
    received_at = received_at or utcnow()
    code = tracking.new_access_code()
    appeal = Appeal(
        case_no=next_case_no(prefix, received_at),
        access_code_hash=tracking.hash_access_code(code),
        channel=channel,
        complainant_name=cleaned["complainant_name"],
        phone=cleaned["phone"],
        id_number=cleaned.get("id_number") or "",
        address=cleaned["address"],
        postcode=cleaned["postcode"],
        email=cleaned.get("email") or "",
        operator=cleaned["operator"],
        service_type=cleaned["service_type"],
        service_number=cleaned["service_number"],
        category=cleaned["category"],
        event_date=cleaned["event_date"],
        operator_complaint_date=cleaned["operator_complaint_date"],
        operator_ticket_no=cleaned.get("operator_ticket_no") or "",
        request=cleaned["request"],
        facts=cleaned["facts"],
        received_at=received_at,
    )
    db.session.add(appeal)
    return Filed(appeal=appeal, access_code=code)
