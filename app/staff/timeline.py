"""The case timeline's details as labelled text in the page's language ("回访对象：申诉人；是否接通：是；满意度：3"):
the labels come from the lifecycle table's fields and the names below, the values from the shared codes; record
ids mean nothing to a reader and are left out, and no internal key is ever shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.i18n import code_name, local_datetime
from app.staff import bp
from cases import codes
from cases.models import CaseEvent, Operator, User
from workflows import lifecycle

HIDDEN = frozenset({"contact_id", "settlement_id", "referral_id"})  # ids of records shown elsewhere on the page
# The details recorded by events that are not lifecycle actions (assignments, calls, proposals, the calendar).
LABELS = {
    "repeat_of": _l("与之重复的案件"),
    "assignee": _l("承办人"),
    "previous": _l("原承办人"),
    "taken": _l("本人接办"),
    "callee": _l("回访对象"),
    "reached": _l("是否接通"),
    "satisfaction": _l("满意度"),
    "terms_carried_out": _l("是否已履行"),
    "deadline": _l("所涉期限"),
    "due_before": _l("原到期时间"),
    "due_after": _l("新到期时间"),
    "reports": _l("反映次数"),
    "imported_without_details": _l("导入时原系统未记录详情"),
    "material": _l("材料"),
    "arrived_by": _l("递交方式"),
    "via": _l("途径"),
    "score": _l("评分"),
}
VIA = {"web": _l("网站"), "api": _l("API")}
CALLEES = {"consumer": _l("申诉人"), "operator": _l("被申诉企业")}
ACTION_LABELS = {("report_terms_not_done", "text"): _l("申诉人的说明")}
SHOWN_APART = {"note": "text", "forward_reply": "text"}  # the text is the event's own paragraph


def _field_labels() -> dict[str, str]:
    """The lifecycle table's field labels in the page's language (the first one of a name wins)."""
    lang = codes.current_lang()
    labels: dict[str, str] = {}
    for t in lifecycle.TRANSITIONS:
        for f in t.fields:
            labels.setdefault(f.name, codes.localized(f, lang))
    return labels


def _value(key: str, value: Any, names: dict[str, dict[str, str]]) -> str:
    """A detail's value as a reader says it."""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if key == "ground":
        return code_name(str(value), "rejection_ground")
    if key == "operator":
        return names["operators"].get(str(value), str(value))
    if key in ("assignee", "previous"):
        return names["users"].get(str(value), str(value))
    if key == "callee":
        return str(CALLEES.get(str(value), value))
    if key == "deadline":
        rule = lifecycle.DEADLINES.get(str(value))
        return codes.localized(rule) if rule else str(value)
    if key in ("due_before", "due_after"):
        try:
            return local_datetime(dt.datetime.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    if key in ("satisfaction", "score"):
        return _("%(n)s（满分5）", n=value)
    if key == "via":
        return str(VIA.get(str(value), value))
    return str(value)


def _names(events: Iterable[CaseEvent]) -> dict[str, dict[str, str]]:
    """The people and operators the events name by username or code, looked up once for the whole timeline."""
    usernames, op_codes = set(), set()
    for e in events:
        details = e.details or {}
        usernames |= {str(details[k]) for k in ("assignee", "previous") if details.get(k)}
        if details.get("operator"):
            op_codes.add(str(details["operator"]))
    users = (
        {
            u.username: u.full_name or u.username
            for u in db.session.scalars(sa.select(User).where(User.username.in_(usernames)))
        }
        if usernames
        else {}
    )
    operators = (
        {o.code: o.display_name for o in db.session.scalars(sa.select(Operator).where(Operator.code.in_(op_codes)))}
        if op_codes
        else {}
    )
    return {"users": users, "operators": operators}


def details_of(events: Iterable[CaseEvent]) -> dict[int, list[tuple[str, str]]]:
    """For each event: its details as (label, value) pairs, in the order its action's form asks for them."""
    events = list(events)
    labels = _field_labels()
    names = _names(events)
    out: dict[int, list[tuple[str, str]]] = {}
    for e in events:
        details = dict(e.details or {})
        if e.action in SHOWN_APART:
            details.pop(SHOWN_APART[e.action], None)
        t = next((t for t in lifecycle.TRANSITIONS if t.action == e.action), None)
        order = [f.name for f in t.fields] if t is not None else []
        keys = [k for k in order if k in details] + [k for k in details if k not in order]
        pairs = []
        for key in keys:
            value = details[key]
            if key in HIDDEN or value is None or value == "":
                continue
            label = ACTION_LABELS.get((e.action, key)) or labels.get(key) or LABELS.get(key)
            pairs.append((str(label) if label else _("其他信息"), _value(key, value, names)))
        out[e.id] = pairs
    return out


@bp.app_template_global()
def event_details(events: Iterable[CaseEvent]) -> dict[int, list[tuple[str, str]]]:
    """`details_of` for the case page's timeline."""
    return details_of(events)
