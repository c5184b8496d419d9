"""Filing an appeal (Art. 12): the whole set of field rules, and creating the case with its access code.

`clean_appeal` is the one place the fields are checked: the web form hands it
what was typed, the API hands it the JSON body. It returns the cleaned values
or raises `IntakeErrors` naming each bad field, in the consumer's language.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from psycopg.types.json import Jsonb
from sqlalchemy.orm import make_transient_to_detached

from cases import codes, eligibility, rows, tracking
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
    "notify_by",
    "pledge",
)
# How the appellant wants to be told of the case (Appeal.notify_by); e-mail needs an address.
NOTIFY_BY = ("sms", "email", "both")
DEFAULT_NOTIFY_BY = "both"  # SMS, and e-mail when an address is given


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


def _notify_by(value: Any, email: Any) -> str:
    """sms, email or both (the default when not given); e-mail alone needs an address."""
    if value in (None, ""):
        return DEFAULT_NOTIFY_BY
    if value not in NOTIFY_BY:
        raise FieldError(_("请选择通知方式：短信、电子邮件或两者。"))
    if value == "email" and not email:
        raise FieldError(_("选择电子邮件通知时，请填写电子邮箱。"))
    return value


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

    run("notify_by", lambda: _notify_by(raw.get("notify_by"), out.get("email")))
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
        notify_by=cleaned.get("notify_by") or DEFAULT_NOTIFY_BY,
        received_at=received_at,
    )
    db.session.add(appeal)
    return Filed(appeal=appeal, access_code=code)


def write_new_case(appeal: Appeal) -> None:
    """Write a new case, its audit events and its clocks with one INSERT statement (PostgreSQL).

    The ORM flush would send one INSERT per table and spend more CPU on its bookkeeping than the database
    spends on the rows. The objects then stay in the session as if flushed: persistent, with their ids.
    Elsewhere (SQLite) the flush at commit writes them as usual. Call it after `engine.perform(..., "submit")`.
    """
    if db.engine.dialect.name != "postgresql":
        return
    children = [*appeal.events, *appeal.deadlines]
    if appeal.id is not None or any(obj.id is not None for obj in children):
        return  # already flushed: the ORM owns it
    if appeal.materials or appeal.referrals or appeal.settlements:
        raise ValueError("write_new_case writes an appeal, its events and deadlines only")
    objects = [appeal, *children]
    values = [rows.column_values(obj) for obj in objects]
    # NULLs are left to the columns' own default, so the statement has few enough parameters (and is short
    # enough) for psycopg to cache its parsing and prepare it on the server.
    named = tuple(
        (type(obj), tuple(key for key, _column in _new_case_columns(type(obj)) if obj_values[key] is not None))
        for obj, obj_values in zip(objects, values, strict=True)
    )
    params: dict[str, Any] = {}
    for n, (model, keys) in enumerate(named):
        json_keys = _json_columns(model)
        for i, key in enumerate(keys):
            value = values[n][key]
            params[f"p{n}_{i}"] = Jsonb(value) if key in json_keys else value
    ids = db.session.connection().exec_driver_sql(_new_case_sql(named), params).one()
    if not all(obj in db.session for obj in objects):
        db.session.add(appeal)  # pending with its events and clocks (cascade), as the flush would find them
    for obj, obj_values, new_id in zip(objects, values, ids, strict=True):
        # Straight into the instance's state: the hand-over below marks everything as loaded, unchanged.
        state = obj.__dict__
        for key, value in obj_values.items():
            state.setdefault(key, value)
        state["id"] = new_id
        if obj is not appeal:
            state["appeal_id"] = ids[0]
    # What the flush does with the objects it has written: pending -> persistent, in the identity map, with
    # nothing left to write (a rollback of the transaction expunges them again, as after a flush).
    db.session()._register_persistent({sa.inspect(obj) for obj in objects})


@functools.cache
def _new_case_columns(model: type) -> list[tuple[str, sa.Column]]:
    """(attribute, column) of what a new row names: not the id (a sequence's) nor the appeal's (the INSERT's)."""
    return [
        (attr.key, attr.columns[0])
        for attr in sa.inspect(model).column_attrs
        if not attr.columns[0].primary_key and attr.columns[0].name != "appeal_id"
    ]


@functools.cache
def _json_columns(model: type) -> frozenset[str]:
    """The attributes of a new row whose column is JSON (sent to psycopg wrapped as Jsonb)."""
    return frozenset(key for key, column in _new_case_columns(model) if isinstance(column.type, sa.JSON))


@functools.lru_cache(maxsize=32)
def _new_case_sql(named: tuple[tuple[type, tuple[str, ...]], ...]) -> str:
    """WITH c0 AS (INSERT the appeal RETURNING id), c1 AS (INSERT a child RETURNING id), ... SELECT the ids.

    `named` gives, for the appeal and then each child, its model and the attributes the statement sets.
    """
    parts = []
    for n, (model, keys) in enumerate(named):
        columns = dict(_new_case_columns(model))
        names = [columns[key].name for key in keys]
        params = [f"%(p{n}_{i})s" for i in range(len(keys))]
        if n:  # a child of the appeal
            names, params = ["appeal_id", *names], ["(SELECT id FROM c0)", *params]
        parts.append(
            f"c{n} AS (INSERT INTO {model.__table__.name} ({', '.join(names)}) VALUES ({', '.join(params)}) "
            "RETURNING id)"
        )
    return f"WITH {', '.join(parts)} SELECT {', '.join(f'(SELECT id FROM c{n})' for n in range(len(named)))}"
