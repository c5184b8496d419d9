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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from psycopg.errors import UndefinedTable
from psycopg.types.json import Jsonb
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from cases import codes, eligibility, numbering, postgres, rows, tracking
from cases.db import db
from cases.models import Appeal, Operator, utcnow
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
    cleaned: Mapping[str, Any],
    *,
    prefix: str,
    channel: str = "online",
    received_at: dt.datetime | None = None,
    alone: bool = False,
) -> Filed:
    """Create the appeal with its case number and access-code hash, in the session (the caller submits and commits).

    `alone`: the new case is all the caller writes (`write_new_case(..., alone=True)`). On PostgreSQL its
    number is then taken by its INSERT (`numbering.Pending` until then), which saves a round trip.
    """
    received_at = received_at or utcnow()
    code = tracking.new_access_code()
    if alone and postgres.active():
        number: str | numbering.Pending = numbering.pending(prefix, received_at)
    else:
        number = numbering.next_case_no(prefix, received_at)
    appeal = Appeal(
        case_no=number,
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


def write_new_case(appeal: Appeal, *, alone: bool = False) -> None:
    """Write a new case, its audit events and its clocks with one INSERT statement (PostgreSQL).

    The ORM flush would send one INSERT per table and spend more CPU on its bookkeeping than the database
    spends on the rows. The objects then stay in the session as if loaded: persistent, with their ids (or,
    written alone, out of it: `_attach_as_loaded`). Elsewhere (SQLite) the flush at commit writes them as
    usual. Call it after `engine.perform(..., "submit")`.

    `alone` (the appeal was filed with `alone=True`): the statement is its own transaction. It takes the
    case number from the year's sequence and commits at once, on a connection in autocommit: one round trip
    instead of four (BEGIN, the number, the INSERT, COMMIT). The caller writes nothing else.
    """
    if not postgres.active():
        return
    children = [*appeal.events, *appeal.deadlines]
    if appeal.id is not None or any(obj.id is not None for obj in children):
        return  # already flushed: the ORM owns it
    if appeal.materials or appeal.referrals or appeal.settlements:
        raise ValueError("write_new_case writes an appeal, its events and deadlines only")
    objects = [appeal, *children]
    values = [rows.column_values(obj) for obj in objects]
    number = values[0]["case_no"]
    pending = isinstance(number, numbering.Pending)
    if pending != alone:
        raise ValueError("an appeal filed alone is written alone, and only such an appeal")
    # NULLs are left to the columns' own default, so the statement has few enough parameters (and is short
    # enough) for psycopg to cache its parsing and prepare it on the server.
    named = tuple(
        (
            type(obj),
            tuple(
                key
                for key, _column in _new_case_columns(type(obj))
                if obj_values[key] is not None and not (pending and obj is appeal and key == "case_no")
            ),
        )
        for obj, obj_values in zip(objects, values, strict=True)
    )
    params: dict[str, Any] = number.params() if pending else {}
    for n, (model, keys) in enumerate(named):
        json_keys = _json_columns(model)
        for i, key in enumerate(keys):
            value = values[n][key]
            params[f"p{n}_{i}"] = Jsonb(value) if key in json_keys else value
    sql = _new_case_sql(named, pending)
    if alone:
        ids, case_no = _run_alone(sql, params, number)
        values[0]["case_no"] = case_no
    else:
        ids = db.session.connection().exec_driver_sql(sql, params).one()
    _attach_as_loaded(objects, values, ids, alone)


def _run_alone(sql: str, params: dict[str, Any], number: numbering.Pending) -> tuple[tuple[int, ...], str]:
    """Run the statement in autocommit; makes the year's sequence first when it is missing. (ids, case number)."""
    try:
        return _execute_alone(sql, params)
    except sa.exc.ProgrammingError as exc:
        if not isinstance(exc.orig, UndefinedTable):
            raise
    numbering.make_sequence(number.year)  # the year's first case (nothing was written)
    return _execute_alone(sql, params)


def _execute_alone(sql: str, params: dict[str, Any]) -> tuple[tuple[int, ...], str]:
    with db.engine.connect() as conn:
        row = conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(sql, params).one()
    return tuple(row[1:]), row[0]


def _attach_as_loaded(objects: list[Any], values: list[dict[str, Any]], ids: Sequence[int], alone: bool) -> None:
    """Take the written objects out of the session's hands: nothing of them is left for its flush to write.

    Written alone (committed already), they stay out of the session, with their ids and number: the caller
    reads them (the answer) and writes nothing more. Otherwise they go back in as if just loaded (persistent,
    with their ids, nothing to flush), so that the caller goes on with them in its transaction: their values
    and ids are set as committed and they are made detached with their identity, then added back.
    """
    for obj in objects:
        if obj in db.session:  # (expunging the appeal takes its events and clocks with it)
            db.session.expunge(obj)
    appeal = objects[0]
    for obj, obj_values, new_id in zip(objects, values, ids, strict=True):
        if alone:
            obj.id = new_id
            if obj is appeal:
                obj.case_no = obj_values["case_no"]
            else:
                obj.appeal_id = ids[0]
            continue
        for key, value in obj_values.items():
            if key not in obj.__dict__:
                set_committed_value(obj, key, value)
        set_committed_value(obj, "id", new_id)
        if obj is not appeal:
            set_committed_value(obj, "appeal_id", ids[0])
        make_transient_to_detached(obj)
    if not alone:
        db.session.add(appeal)  # its events and clocks follow (cascade), detached -> persistent


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
def _new_case_sql(named: tuple[tuple[type, tuple[str, ...]], ...], pending: bool) -> str:
    """WITH c0 AS (INSERT the appeal RETURNING id), c1 AS (INSERT a child RETURNING id), ... SELECT the ids.

    `named` gives, for the appeal and then each child, its model and the attributes the statement sets.
    `pending`: the appeal's case number is taken here (`numbering.PENDING_SQL`) and comes first in the answer.
    """
    parts = []
    for n, (model, keys) in enumerate(named):
        columns = dict(_new_case_columns(model))
        names = [columns[key].name for key in keys]
        params = [f"%(p{n}_{i})s" for i in range(len(keys))]
        if n:  # a child of the appeal
            names, params = ["appeal_id", *names], ["(SELECT id FROM c0)", *params]
        elif pending:
            names, params = ["case_no", *names], [numbering.PENDING_SQL, *params]
        returning = "id, case_no" if n == 0 and pending else "id"
        parts.append(
            f"c{n} AS (INSERT INTO {model.__table__.name} ({', '.join(names)}) VALUES ({', '.join(params)}) "
            f"RETURNING {returning})"
        )
    answer = [f"(SELECT id FROM c{n})" for n in range(len(named))]
    if pending:
        answer.insert(0, "(SELECT case_no FROM c0)")
    return f"WITH {', '.join(parts)} SELECT {', '.join(answer)}"
